// The centre of the window: the conversation's header and system prompt, its messages
// (following the reply as it streams), the empty states (with no model: FirstRunPanel's
// recommended download and the models found on this computer), and the composer.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import QtQuick.Dialogs
import Hearth

Rectangle {
    id: root

    required property ChatController controller
    readonly property bool modelReady: controller.modelState === ChatController.Ready
    readonly property bool modelLoading: controller.modelState === ChatController.Loading
    // The Models panel, on its Download tab (the catalog) or on its list; Main.qml opens it.
    signal catalogRequested()
    signal modelsRequested()
    function focusComposer() { composer.focusInput() }
    // Opens "Copy as…" on format `format` (0 Hearth, 1 llama-server, 2 vLLM, 3 Ollama) with
    // the conversation and settings as they are now.
    function openCopyAs(format = 0) {
        copyAsPopup.formats = root.controller.requestExports()
        copyAsPopup.current = format
        copyAsPopup.copied = false
        copyAsPopup.open()
    }
    // Shows the last reply as tokens with token `token` inspected (the screenshot script's
    // --panel inspector).
    function inspectLastReply(token: int) {
        const item = messages.itemAtIndex(messages.count - 1) as MessageDelegate
        if (item && item.tokens.length > token) {
            item.inspecting = true
            item.inspectedToken = token
            item.inspectedTrace = root.controller.messages.tokenTrace(messages.count - 1, token)
            messages.positionViewAtEnd()
        }
    }

    color: Theme.window

    FileDialog {
        id: openModel
        title: qsTr("Open a GGUF model")
        nameFilters: [qsTr("GGUF models (*.gguf)"), qsTr("All files (*)")]
        onAccepted: root.controller.loadModel(selectedFile)
    }

    ColumnLayout {
        anchors.fill: parent
        spacing: 0

        // ---- header: title, model, system prompt ----
        Rectangle {
            Layout.fillWidth: true
            implicitHeight: header.implicitHeight + 2 * Theme.spacing
            color: Theme.window
            RowLayout {
                id: header
                anchors.fill: parent
                anchors.leftMargin: 2 * Theme.spacing
                anchors.rightMargin: Theme.spacing
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    Label {
                        text: root.controller.currentTitle
                        font.pixelSize: 16
                        font.bold: true
                        color: Theme.text
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    Label {
                        text: root.modelReady ? root.controller.modelName + " · " + root.controller.modelDetails
                                              : root.controller.statusText
                        color: Theme.mutedText
                        font.pixelSize: 12
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                }
                FlatButton {
                    text: qsTr("Copy as…")
                    font.pixelSize: 13
                    onClicked: root.openCopyAs()
                    Accessible.name: qsTr("Copy this chat as a request to a server")
                }
                FlatButton {
                    text: root.controller.systemPrompt.length > 0 ? qsTr("System prompt ✓") : qsTr("System prompt")
                    font.pixelSize: 13
                    onClicked: systemPopup.open()
                }
            }
            // "Copy as…": the conversation as a curl request to Hearth's server, llama-server,
            // vLLM or Ollama, with the settings each names or defaults differently.
            Popup {
                id: copyAsPopup
                property var formats: []
                property int current: 0
                property bool copied: false
                x: parent.width - width - Theme.spacing
                y: parent.height
                width: Math.min(640, root.width - 2 * Theme.spacing)
                height: Math.min(560, root.height - parent.height - Theme.spacing)
                padding: 12
                background: Rectangle { color: Theme.surface; border.color: Theme.border; radius: Theme.radius }
                contentItem: ColumnLayout {
                    spacing: Theme.spacing
                    Label { text: qsTr("Copy this chat as a request"); font.bold: true; color: Theme.text }
                    RowLayout {
                        spacing: 4
                        Repeater {
                            model: copyAsPopup.formats
                            delegate: FlatButton {
                                required property var modelData
                                required property int index
                                text: modelData.name
                                font.bold: index === copyAsPopup.current
                                onClicked: { copyAsPopup.current = index; copyAsPopup.copied = false }
                            }
                        }
                    }
                    ScrollView {
                        Layout.fillWidth: true
                        Layout.fillHeight: true
                        Layout.minimumHeight: 120
                        TextArea {
                            readOnly: true
                            selectByMouse: true
                            wrapMode: TextEdit.NoWrap
                            font.family: Theme.monoFamily
                            font.pixelSize: 12
                            color: Theme.text
                            text: copyAsPopup.formats.length > 0 ? copyAsPopup.formats[copyAsPopup.current].command : ""
                            background: Rectangle { color: Theme.codeBackground; radius: 4 }
                            Accessible.name: qsTr("Request")
                        }
                    }
                    Repeater {
                        model: copyAsPopup.formats.length > 0 ? copyAsPopup.formats[copyAsPopup.current].notes : []
                        delegate: Label {
                            required property var modelData
                            text: "• " + modelData
                            color: Theme.mutedText
                            font.pixelSize: 12
                            wrapMode: Text.Wrap
                            Layout.fillWidth: true
                        }
                    }
                    RowLayout {
                        Item { Layout.fillWidth: true }
                        Label {
                            visible: copyAsPopup.copied
                            text: qsTr("Copied to the clipboard")
                            color: Theme.success
                            font.pixelSize: 12
                        }
                        AccentButton {
                            text: qsTr("Copy")
                            onClicked: copyAsPopup.copied = root.controller.copyRequestAs(copyAsPopup.current)
                        }
                    }
                }
            }
            Popup {
                id: systemPopup
                x: parent.width - width - Theme.spacing
                y: parent.height
                width: Math.min(460, root.width - 2 * Theme.spacing)
                padding: 12
                background: Rectangle { color: Theme.surface; border.color: Theme.border; radius: Theme.radius }
                contentItem: ColumnLayout {
                    Label { text: qsTr("System prompt for this conversation"); font.bold: true; color: Theme.text }
                    Flow {
                        Layout.fillWidth: true
                        spacing: 4
                        Repeater {
                            model: root.controller.systemPromptPresets
                            delegate: FlatButton {
                                required property var modelData
                                text: modelData.name
                                onClicked: root.controller.systemPrompt = modelData.text
                            }
                        }
                    }
                    TextArea {
                        Layout.fillWidth: true
                        Layout.preferredHeight: 120
                        wrapMode: TextEdit.Wrap
                        placeholderText: qsTr("No system prompt")
                        text: root.controller.systemPrompt
                        onEditingFinished: root.controller.systemPrompt = text
                        Accessible.name: qsTr("System prompt")
                    }
                }
            }
        }
        Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: Theme.border }

        // ---- unreadable conversation files ----
        Rectangle {
            id: warnings
            property bool dismissed: false
            visible: !dismissed && root.controller.storeWarningsText.length > 0
            Layout.fillWidth: true
            implicitHeight: warningColumn.implicitHeight + 2 * Theme.spacing
            color: Theme.warningBackground
            RowLayout {
                anchors.fill: parent
                anchors.margins: Theme.spacing
                ColumnLayout {
                    id: warningColumn
                    Layout.fillWidth: true
                    Label {
                        text: qsTr("Some saved conversations could not be read as they are. A file that was skipped is left untouched on disk:")
                        color: Theme.warning
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    Label {
                        text: root.controller.storeWarningsText
                        color: Theme.warning
                        font.pixelSize: 12
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                }
                ToolButton { text: "✕"; onClicked: warnings.dismissed = true; Accessible.name: qsTr("Dismiss") }
            }
        }

        // ---- messages, or an empty state ----
        Item {
            Layout.fillWidth: true
            Layout.fillHeight: true

            ListView {
                id: messages
                objectName: "messageList"
                anchors.fill: parent
                anchors.leftMargin: 3 * Theme.spacing
                anchors.rightMargin: 3 * Theme.spacing
                visible: count > 0
                clip: true
                spacing: Theme.spacing
                model: root.controller.messages
                topMargin: 2 * Theme.spacing
                bottomMargin: 2 * Theme.spacing
                ScrollBar.vertical: ScrollBar {}
                // Follow the streaming reply unless the user has scrolled up to read.
                property bool following: true
                onMovementEnded: following = atYEnd
                onCountChanged: { following = true; positionViewAtEnd() }
                onContentHeightChanged: if (following) positionViewAtEnd()

                delegate: MessageDelegate {
                    id: messageItem
                    width: ListView.view.width
                    isLast: messageIndex === root.controller.messages.count - 1
                    actionsEnabled: !root.controller.busy
                    onTokenInspected: (i) => messageItem.inspectedTrace = root.controller.messages.tokenTrace(messageItem.messageIndex, i)
                    onCopyRequested: (text) => root.controller.copyToClipboard(text)
                    onRegenerateRequested: root.controller.regenerate(false)
                    onDeleteRequested: root.controller.deleteMessage(messageIndex)
                    onEditRequested: (text) => root.controller.editAndRerun(messageIndex, text)
                }
            }

            // Centred, and scrolled when the window is too short for it.
            Flickable {
                id: emptyScroll
                anchors.fill: parent
                visible: messages.count === 0
                contentWidth: width
                contentHeight: Math.max(height, emptyState.implicitHeight + 4 * Theme.spacing)
                boundsBehavior: Flickable.StopAtBounds
                clip: true
                ScrollBar.vertical: ScrollBar {}

                ColumnLayout {
                    id: emptyState
                    objectName: "emptyState"
                    width: Math.min(emptyScroll.width - 4 * Theme.spacing, 520)
                    x: (emptyScroll.width - width) / 2
                    y: (emptyScroll.contentHeight - implicitHeight) / 2
                    spacing: 12

                    Label {
                        Layout.fillWidth: true
                        horizontalAlignment: Text.AlignHCenter
                        font.pixelSize: 22
                        color: Theme.text
                        wrapMode: Text.Wrap
                        text: root.modelReady ? qsTr("What shall we talk about?")
                            : root.modelLoading ? qsTr("Loading %1…").arg(root.controller.modelName)
                            : root.controller.modelState === ChatController.Failed ? qsTr("The model could not be loaded")
                            : qsTr("No model yet")
                    }
                    Label {
                        Layout.fillWidth: true
                        horizontalAlignment: Text.AlignHCenter
                        wrapMode: Text.Wrap
                        color: root.controller.modelState === ChatController.Failed ? Theme.error : Theme.mutedText
                        text: root.modelReady ? qsTr("%1 runs on this computer. Nothing you type leaves it.").arg(root.controller.modelName)
                            : root.modelLoading ? qsTr("You can start typing; your message is sent as soon as the model is ready.")
                            : root.controller.modelState === ChatController.Failed ? root.controller.modelError
                            : qsTr("Hearth runs GGUF models on this computer; nothing you type leaves it. Download one to start, or use one you already have.")
                    }
                    ProgressBar {
                        visible: root.modelLoading
                        Layout.alignment: Qt.AlignHCenter
                        Layout.preferredWidth: 280
                        value: root.controller.loadProgress
                    }
                    Button {
                        Layout.alignment: Qt.AlignHCenter
                        visible: root.modelLoading
                        text: qsTr("Cancel")
                        onClicked: root.controller.cancelLoad()
                    }
                    FirstRunPanel {
                        objectName: "firstRun"
                        Layout.fillWidth: true
                        visible: !root.modelReady && !root.modelLoading
                        controller: root.controller
                        onCatalogRequested: root.catalogRequested()
                        onModelsRequested: root.modelsRequested()
                        onOpenFileRequested: openModel.open()
                    }
                    Flow {
                        Layout.fillWidth: true
                        visible: root.modelReady
                        spacing: 6
                        Repeater {
                            model: [qsTr("Explain what a KV cache is"), qsTr("Write a haiku about a warm fire"),
                                    qsTr("Give me three tips for learning to cook")]
                            delegate: FlatButton {
                                required property string modelData
                                text: modelData
                                font.pixelSize: 13
                                onClicked: root.controller.send(modelData)
                            }
                        }
                    }
                }
            }

            // ---- undo a deletion ----
            Rectangle {
                id: undoToast
                property bool dismissed: false
                anchors.horizontalCenter: parent.horizontalCenter
                anchors.bottom: parent.bottom
                anchors.bottomMargin: Theme.spacing
                visible: root.controller.canUndoDelete && !dismissed
                width: undoRow.implicitWidth + 2 * Theme.spacing
                height: undoRow.implicitHeight + Theme.spacing
                radius: Theme.radius
                color: Theme.raised
                border.color: Theme.border
                Connections {
                    target: root.controller
                    function onUndoChanged() { undoToast.dismissed = false; undoTimer.restart() }
                }
                Timer { id: undoTimer; interval: 10000; onTriggered: undoToast.dismissed = true }
                RowLayout {
                    id: undoRow
                    anchors.centerIn: parent
                    Label { text: qsTr("Deleted “%1”").arg(root.controller.deletedTitle); color: Theme.text }
                    FlatButton { text: qsTr("Undo"); onClicked: root.controller.undoDelete() }
                }
            }
        }

        // The doctor's notices about the last reply.
        DoctorNotices {
            objectName: "doctorNoticesColumn"
            Layout.fillWidth: true
            Layout.leftMargin: 3 * Theme.spacing
            Layout.rightMargin: 3 * Theme.spacing
            visible: root.controller.diagnoses.length > 0
            controller: root.controller
        }

        Composer {
            id: composer
            Layout.fillWidth: true
            Layout.margins: 2 * Theme.spacing
            Layout.topMargin: Theme.spacing
            busy: root.controller.busy
            canSend: root.modelReady || root.modelLoading
            onSendRequested: (text) => { if (root.controller.send(text)) composer.clear() }
            onStopRequested: root.controller.stop()
        }
    }
}
