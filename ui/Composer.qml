// Where the user writes: Enter sends, Shift+Enter starts a new line; while a reply is being
// generated the button stops it instead.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root

    required property bool busy
    property bool canSend: true
    property alias text: input.text
    property string placeholder: qsTr("Message Hearth…  (Enter sends, Shift+Enter for a new line)")
    signal sendRequested(string text)
    signal stopRequested()

    function submit() {
        if (!root.busy && root.canSend && input.text.trim().length > 0)
            root.sendRequested(input.text)
    }
    function clear() { input.clear() }
    function focusInput() { input.forceActiveFocus() }

    implicitHeight: Math.min(Math.max(input.implicitHeight, 44), 200) + 2 * Theme.spacing
    color: Theme.surface
    radius: Theme.radius
    border.color: input.activeFocus ? Theme.accent : Theme.border

    RowLayout {
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: Theme.spacing

        ScrollView {
            Layout.fillWidth: true
            Layout.fillHeight: true
            TextArea {
                id: input
                objectName: "composerInput"
                placeholderText: root.placeholder
                wrapMode: TextEdit.Wrap
                color: Theme.text
                placeholderTextColor: Theme.mutedText
                background: null
                font.pixelSize: 14
                Accessible.name: qsTr("Message")
                Keys.onReturnPressed: (event) => root.handleReturn(event)
                Keys.onEnterPressed: (event) => root.handleReturn(event)
            }
        }
        AccentButton {
            id: action
            objectName: "sendButton"
            Layout.alignment: Qt.AlignBottom
            text: root.busy ? qsTr("Stop") : qsTr("Send")
            enabled: root.busy || (root.canSend && input.text.trim().length > 0)
            onClicked: root.busy ? root.stopRequested() : root.submit()
        }
    }

    function handleReturn(event: KeyEvent) {
        if (event.modifiers & Qt.ShiftModifier)
            input.insert(input.cursorPosition, "\n")
        else
            root.submit()
        event.accepted = true
    }
}
