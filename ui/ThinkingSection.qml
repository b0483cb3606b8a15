// A reply's reasoning ("thinking"), above its answer: a header that opens and closes it, with
// the thinking's own token count, time and speed, and the reasoning as plain, muted text. Open
// while the reasoning streams, closed once the answer starts, unless the user chose; Compare's
// columns keep it closed (`thinking` never set).
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    property string text
    // The reply is streaming and has no answer yet: the section opens and says so.
    property bool thinking: false
    property string summary // MessageStats::thinkingSummary(), once the reply has ended
    // Set once the user opens or closes it; from then on it stays as they left it.
    property bool userChose: false
    property bool userOpen: false
    readonly property bool open: userChose ? userOpen : thinking

    spacing: 4
    visible: text.length > 0 || thinking

    AbstractButton {
        id: header
        objectName: "thinkingHeader"
        Layout.fillWidth: true
        activeFocusOnTab: true
        Accessible.role: Accessible.Button
        Accessible.name: (root.open ? qsTr("Hide thinking") : qsTr("Show thinking"))
        padding: 2
        contentItem: RowLayout {
            spacing: 6
            Label {
                text: root.open ? "\u25BE" : "\u25B8"
                color: Theme.mutedText
                font.pixelSize: 12
            }
            Label {
                objectName: "thinkingTitle"
                text: root.thinking ? qsTr("Thinking…") : qsTr("Thinking")
                color: header.hovered || header.visualFocus ? Theme.text : Theme.mutedText
                font.pixelSize: 12
                font.bold: true
                font.italic: root.thinking
            }
            Label {
                objectName: "thinkingSummary"
                text: root.thinking ? "" : root.summary
                color: Theme.mutedText
                font.pixelSize: 11
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
        }
        background: Rectangle {
            radius: 4
            color: header.down ? Theme.border : (header.hovered || header.visualFocus ? Theme.raised : "transparent")
        }
        onClicked: { root.userOpen = !root.open; root.userChose = true }
    }

    // Created only while open: a long reasoning costs nothing while it is closed.
    Repeater {
        model: root.open ? 1 : 0
        delegate: Rectangle {
            Layout.fillWidth: true
            Layout.bottomMargin: 6 // apart from the answer below
            implicitHeight: reasoning.implicitHeight
            color: "transparent"
            Rectangle {
                width: 2
                height: parent.height
                color: Theme.border
            }
            TextEdit {
                id: reasoning
                objectName: "thinkingText"
                x: 12
                width: parent.width - 12
                text: root.text
                textFormat: TextEdit.PlainText
                readOnly: true
                selectByMouse: true
                wrapMode: TextEdit.Wrap
                color: Theme.mutedText
                selectionColor: Theme.selection
                selectedTextColor: Theme.text
                font.pixelSize: 13
            }
        }
    }
}
