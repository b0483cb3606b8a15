// Compare mode: two to four columns over one shared conversation, side by side, each with
// its own template and sampling settings; one composer sends the message to every column,
// and the columns generate together on the engine thread. `controller` is a
// CompareController whose `engine` the window has set to the chat's worker.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root
    required property var controller
    color: Theme.window

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: Theme.spacing

        RowLayout {
            Layout.fillWidth: true
            spacing: Theme.spacing
            Label {
                text: qsTr("Compare")
                font.pixelSize: 16
                font.bold: true
                color: Theme.text
            }
            FlatButton {
                objectName: "addColumn"
                text: qsTr("Add column")
                enabled: !root.controller.busy && root.controller.columns.count < root.controller.maxColumns
                onClicked: root.controller.addColumn()
            }
            FlatButton {
                objectName: "shootout"
                text: qsTr("Template shoot-out")
                enabled: !root.controller.busy
                onClicked: root.controller.templateShootout()
            }
            CheckBox {
                objectName: "sameSeed"
                text: qsTr("Same seed")
                checked: root.controller.sameSeed
                onToggled: root.controller.sameSeed = checked
            }
            FlatButton {
                text: qsTr("New comparison")
                enabled: !root.controller.busy && root.controller.userMessages.length > 0
                onClicked: root.controller.clearConversation()
            }
            FlatButton {
                text: qsTr("Save…")
                enabled: !root.controller.busy
                onClicked: saveDialog.open()
            }
            FlatButton {
                text: qsTr("Open…")
                enabled: !root.controller.busy
                onClicked: {
                    openMenu.sessions = root.controller.savedSessions()
                    openMenu.open()
                }
                Menu {
                    id: openMenu
                    property var sessions: []
                    Repeater {
                        model: openMenu.sessions
                        delegate: MenuItem {
                            required property string modelData
                            text: modelData.substring(modelData.lastIndexOf("/") + 1)
                            onTriggered: root.controller.openSession(modelData)
                        }
                    }
                    MenuItem {
                        enabled: false
                        visible: openMenu.sessions.length === 0
                        height: visible ? implicitHeight : 0
                        text: qsTr("No saved comparisons")
                    }
                }
            }
            Item { Layout.fillWidth: true }
        }

        Label {
            objectName: "compareError"
            Layout.fillWidth: true
            visible: root.controller.error !== ""
            text: root.controller.error
            color: Theme.error
            wrapMode: Text.Wrap
        }

        Label {
            Layout.fillWidth: true
            visible: root.controller.userMessages.length > 0
            text: qsTr("You: ") + (root.controller.userMessages.length > 0
                  ? root.controller.userMessages[root.controller.userMessages.length - 1] : "")
            color: Theme.mutedText
            elide: Text.ElideRight
        }

        // A horizontal ListView, not a Repeater in a RowLayout: Qt 6.4's layouts crash when a
        // Repeater replaces all its items at once (the template shoot-out).
        ListView {
            id: columnList
            objectName: "columnRepeater"
            Layout.fillWidth: true
            Layout.fillHeight: true
            orientation: ListView.Horizontal
            interactive: false
            spacing: Theme.spacing
            model: root.controller.columns
            delegate: CompareColumn {
                controller: root.controller
                width: (columnList.width - columnList.spacing * (columnList.count - 1))
                       / Math.max(1, columnList.count)
                height: columnList.height
            }
        }

        Label {
            objectName: "summary"
            Layout.fillWidth: true
            visible: text !== ""
            text: root.controller.summaryText
            color: Theme.mutedText
            font.pixelSize: 11
        }

        Composer {
            id: composer
            Layout.fillWidth: true
            busy: root.controller.busy
            placeholder: qsTr("Message every column…  (Enter sends, Shift+Enter for a new line)")
            onSendRequested: (text) => { if (root.controller.send(text)) composer.clear() }
            onStopRequested: root.controller.stop()
        }
    }

    Dialog {
        id: saveDialog
        title: qsTr("Save comparison")
        anchors.centerIn: parent
        modal: true
        standardButtons: Dialog.Save | Dialog.Cancel
        TextField {
            id: saveName
            width: 280
            placeholderText: qsTr("Name")
        }
        onAccepted: root.controller.saveSession(saveName.text)
    }
}
