// The doctor's notices under the last reply: each diagnosis with its evidence (folded until
// asked), the buttons that apply its fixes, and a dismiss button.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ColumnLayout {
    id: root
    required property ChatController controller
    spacing: 4

    Repeater {
        objectName: "doctorNotices"
        model: root.controller.diagnoses
        delegate: Rectangle {
            id: notice
            objectName: "doctorNotice"
            required property int index
            required property var modelData
            property bool open: false
            readonly property color tone: modelData.severity === "error" ? Theme.error
                                        : modelData.severity === "warning" ? Theme.warning
                                        : Theme.mutedText
            Layout.fillWidth: true
            implicitHeight: noticeColumn.implicitHeight + Theme.spacing
            radius: Theme.radius
            color: Theme.warningBackground
            border.color: tone

            ColumnLayout {
                id: noticeColumn
                anchors.fill: parent
                anchors.margins: Theme.spacing / 2
                anchors.leftMargin: Theme.spacing
                spacing: 2
                RowLayout {
                    Layout.fillWidth: true
                    // The severity as a drawn badge: the fonts people have lack some emoji.
                    Rectangle {
                        implicitWidth: 16
                        implicitHeight: 16
                        radius: 8
                        color: notice.tone
                        Label {
                            anchors.centerIn: parent
                            text: notice.modelData.severity === "info" ? "i" : "!"
                            color: Theme.warningBackground
                            font.bold: true
                            font.pixelSize: 11
                        }
                    }
                    Label {
                        objectName: "noticeTitle"
                        Layout.fillWidth: true
                        text: notice.modelData.title
                        font.bold: true
                        font.pixelSize: 12
                        color: Theme.text
                        wrapMode: Text.Wrap
                    }
                    FlatButton {
                        text: notice.open ? qsTr("Less") : qsTr("Why?")
                        onClicked: notice.open = !notice.open
                    }
                    FlatButton {
                        objectName: "dismissNotice"
                        text: "✕"
                        Accessible.name: qsTr("Dismiss")
                        onClicked: root.controller.dismissDiagnosis(notice.index)
                    }
                }
                Label {
                    Layout.fillWidth: true
                    visible: notice.open && text.length > 0
                    text: notice.modelData.explanation
                    color: Theme.text
                    font.pixelSize: 12
                    wrapMode: Text.Wrap
                }
                Repeater {
                    model: notice.open ? notice.modelData.evidence : notice.modelData.evidence.slice(0, 1)
                    delegate: Label {
                        required property string modelData
                        Layout.fillWidth: true
                        text: "· " + modelData
                        color: Theme.mutedText
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                    }
                }
                Flow {
                    Layout.fillWidth: true
                    spacing: 4
                    visible: notice.modelData.fixes.length > 0
                    Repeater {
                        model: notice.modelData.fixes
                        delegate: Button {
                            required property int index
                            required property var modelData
                            objectName: "noticeFix"
                            text: modelData.label
                            font.pixelSize: 12
                            ToolTip.visible: hovered && modelData.effect.length > 0
                            ToolTip.text: modelData.effect
                            onClicked: root.controller.applyDiagnosisFix(notice.index, index)
                        }
                    }
                }
            }
        }
    }
}
