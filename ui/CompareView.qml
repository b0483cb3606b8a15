// Compare mode: two to five columns over one shared conversation, side by side (scrolling
// sideways when they do not fit at minColumnWidth), each with its own template and sampling
// settings, and its model (the chat's unless the column picks another); one composer sends
// the message to every column, and the columns of each model generate together on the
// engine thread, one model after another. The picker lists `controller.library`'s models. `controller` is a CompareController whose `engine` the
// window has set to the chat's worker.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root
    required property var controller
    // Narrower than this, the columns scroll sideways instead of squeezing their fields.
    property int minColumnWidth: 190
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
                ToolTip.visible: hovered
                ToolTip.delay: 600
                ToolTip.text: qsTr("One seed for every column: columns with identical settings write identical text, turn after turn, so a changed setting shows only its own effect.\nA reopened comparison computes its earlier turns afresh instead of reusing the first run's cache, and the numbers can differ in their last bits: its next replies may differ from the ones the first run would have written (its identical columns still agree).")
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

        // Every column's system prompt. With one, SmolLM2's own template renders exactly as
        // ChatML (without, it writes its own default system prompt), which the shoot-out shows.
        TextField {
            objectName: "systemPrompt"
            Layout.fillWidth: true
            font.pixelSize: 12
            placeholderText: qsTr("System prompt for every column (optional)")
            text: root.controller.systemPrompt
            enabled: !root.controller.busy
            selectByMouse: true
            onTextEdited: root.controller.systemPrompt = text
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
        // Repeater replaces all its items at once (the template shoot-out). Not flickable, so
        // that dragging selects text; the scroll bar moves it when the columns do not fit.
        ListView {
            id: columnList
            objectName: "columnRepeater"
            Layout.fillWidth: true
            Layout.fillHeight: true
            orientation: ListView.Horizontal
            interactive: false
            clip: true
            spacing: Theme.spacing
            model: root.controller.columns
            readonly property real fittedWidth: (width - spacing * (count - 1)) / Math.max(1, count)
            readonly property bool scrolls: fittedWidth < root.minColumnWidth
            ScrollBar.horizontal: ScrollBar {
                objectName: "columnScrollBar"
                policy: columnList.scrolls ? ScrollBar.AlwaysOn : ScrollBar.AlwaysOff
            }
            delegate: CompareColumn {
                controller: root.controller
                width: Math.max(root.minColumnWidth, columnList.fittedWidth)
                // Room for the scroll bar under the columns.
                height: columnList.height - (columnList.scrolls ? 12 : 0)
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
