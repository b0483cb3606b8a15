// The list of conversations: search by title, new chat, and per conversation rename and
// delete (deleting offers an undo in the chat view).
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

Rectangle {
    id: root

    required property ChatController controller
    function focusSearch() { search.forceActiveFocus(); search.selectAll() }

    color: Theme.sidebar

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: Theme.spacing

        Button {
            objectName: "newChatButton"
            Layout.fillWidth: true
            text: qsTr("New chat")
            icon.name: "document-new"
            onClicked: root.controller.newConversation()
        }
        TextField {
            id: search
            objectName: "searchField"
            Layout.fillWidth: true
            placeholderText: qsTr("Search (Ctrl+K)")
            text: root.controller.conversations.searchText
            onTextEdited: root.controller.conversations.searchText = text
            Keys.onEscapePressed: { text = ""; root.controller.conversations.searchText = "" }
            Accessible.name: qsTr("Search conversations")
        }

        ListView {
            id: list
            objectName: "conversationList"
            Layout.fillWidth: true
            Layout.fillHeight: true
            clip: true
            spacing: 2
            model: root.controller.conversations
            keyNavigationEnabled: true
            ScrollBar.vertical: ScrollBar {}

            delegate: Rectangle {
                id: entry
                required property string conversationId
                required property string title
                required property int index
                property bool renaming: false
                readonly property bool current: conversationId === root.controller.currentConversationId

                width: ListView.view.width
                implicitHeight: row.implicitHeight + 12
                radius: 6
                color: current ? Theme.selection : (hover.hovered ? Theme.raised : "transparent")
                Accessible.role: Accessible.ListItem
                Accessible.name: title

                HoverHandler { id: hover }
                TapHandler { onTapped: root.controller.selectConversation(entry.conversationId) }

                RowLayout {
                    id: row
                    anchors.fill: parent
                    anchors.leftMargin: Theme.spacing
                    anchors.rightMargin: 2
                    Label {
                        visible: !entry.renaming
                        text: entry.title
                        elide: Text.ElideRight
                        color: Theme.text
                        Layout.fillWidth: true
                    }
                    TextField {
                        id: rename
                        visible: entry.renaming
                        text: entry.title
                        Layout.fillWidth: true
                        onAccepted: { root.controller.renameConversation(entry.conversationId, text); entry.renaming = false }
                        Keys.onEscapePressed: entry.renaming = false
                        onActiveFocusChanged: if (!activeFocus) entry.renaming = false
                    }
                    FlatButton {
                        text: "⋯"
                        opacity: hover.hovered || entry.current ? 1 : 0
                        onClicked: menu.popup()
                        Accessible.name: qsTr("Conversation actions")
                    }
                }
                Menu {
                    id: menu
                    MenuItem {
                        text: qsTr("Rename")
                        onTriggered: { entry.renaming = true; rename.forceActiveFocus(); rename.selectAll() }
                    }
                    MenuItem {
                        text: qsTr("Delete")
                        onTriggered: root.controller.deleteConversation(entry.conversationId)
                    }
                }
            }

            Label {
                anchors.centerIn: parent
                visible: list.count === 0
                text: root.controller.conversations.searchText.length > 0 ? qsTr("No match") : qsTr("No conversations yet")
                color: Theme.mutedText
            }
        }
    }
}
