// The pre-flight checklist of the model selected in the Models panel: each check (Memory,
// Format, Runtime, Sampling) green, amber or red with its summary, figures and evidence, and
// for the others the computed fixes as buttons that apply them.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ColumnLayout {
    id: root
    required property PreflightCard card
    spacing: 4

    function toneOf(status) {
        return status === "green" ? Theme.success : status === "amber" ? Theme.warning : Theme.error
    }

    Label {
        Layout.fillWidth: true
        visible: root.card.busy && root.card.items.length === 0
        text: qsTr("Checking…")
        color: Theme.mutedText
        font.pixelSize: 12
    }
    Label {
        objectName: "checklistError"
        Layout.fillWidth: true
        visible: root.card.error.length > 0
        text: root.card.error
        color: Theme.error
        font.pixelSize: 12
        wrapMode: Text.Wrap
    }
    Repeater {
        objectName: "checklistItems"
        model: root.card.items
        delegate: ColumnLayout {
            id: check
            required property int index
            required property var modelData
            property bool open: modelData.status !== "green"
            Layout.fillWidth: true
            spacing: 2

            RowLayout {
                Layout.fillWidth: true
                Rectangle {
                    implicitWidth: 10
                    implicitHeight: 10
                    radius: 5
                    color: root.toneOf(check.modelData.status)
                    Accessible.name: check.modelData.status
                }
                Label {
                    text: check.modelData.title
                    font.bold: true
                    font.pixelSize: 12
                    color: Theme.text
                }
                Label {
                    Layout.fillWidth: true
                    text: check.modelData.summary
                    font.pixelSize: 12
                    color: Theme.text
                    elide: check.open ? Text.ElideNone : Text.ElideRight
                    wrapMode: check.open ? Text.Wrap : Text.NoWrap
                    maximumLineCount: check.open ? 4 : 1
                }
                FlatButton {
                    text: check.open ? "▾" : "▸"
                    Accessible.name: check.open ? qsTr("Less") : qsTr("More")
                    onClicked: check.open = !check.open
                }
            }
            GridLayout {
                Layout.fillWidth: true
                Layout.leftMargin: 16
                visible: check.open && check.modelData.figures.length > 0
                columns: 2
                columnSpacing: Theme.spacing
                rowSpacing: 0
                Repeater {
                    model: check.open ? check.modelData.figures : []
                    delegate: Label {
                        required property int index
                        required property var modelData
                        Layout.fillWidth: index % 2 === 1
                        text: modelData.label + ": " + modelData.text
                        font.pixelSize: 11
                        color: Theme.mutedText
                        elide: Text.ElideRight
                    }
                }
            }
            Repeater {
                model: check.open ? check.modelData.evidence : []
                delegate: Label {
                    required property string modelData
                    Layout.fillWidth: true
                    Layout.leftMargin: 16
                    text: "· " + modelData
                    font.pixelSize: 11
                    color: Theme.mutedText
                    wrapMode: Text.Wrap
                }
            }
            Flow {
                Layout.fillWidth: true
                Layout.leftMargin: 16
                spacing: 4
                visible: check.modelData.fixes.length > 0
                Repeater {
                    model: check.modelData.fixes
                    delegate: Button {
                        id: fixButton
                        required property int index
                        required property var modelData
                        objectName: "checklistFix"
                        text: modelData.label
                        font.pixelSize: 12
                        // A long label wraps inside the panel rather than running past it.
                        width: Math.min(implicitWidth, parent.width)
                        contentItem: Label {
                            text: fixButton.text
                            font: fixButton.font
                            color: Theme.text
                            wrapMode: Text.Wrap
                            horizontalAlignment: Text.AlignHCenter
                            verticalAlignment: Text.AlignVCenter
                        }
                        ToolTip.visible: hovered && modelData.effect.length > 0
                        ToolTip.text: modelData.effect
                        onClicked: root.card.applyFix(check.index, index)
                    }
                }
            }
        }
    }
}
