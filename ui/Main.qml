// Hearth's window: conversations on the left, the chat in the centre, the Models,
// Sampling, Template and Gauge panels on the right (collapsible), a status bar with the
// compact gauge. main.cpp sets the *Argument properties from the command line.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ApplicationWindow {
    id: window

    property string modelPathArgument: ""
    property string themeArgument: ""
    property string demoPrompt: ""
    property string panelArgument: ""
    // --compare-with FILE: with --panel compare, the two-quantization view (the chat's model
    // against FILE, greedy) instead of the template shoot-out.
    property string compareWithArgument: ""
    readonly property ChatController controller: chat
    readonly property var panelNames: ["models", "sampling", "template", "gauge"]

    function showPanel(name: string) {
        settings.rightPanel = settings.rightPanel === name ? "" : name
    }

    width: settings.windowWidth
    height: settings.windowHeight
    minimumWidth: 640
    minimumHeight: 420
    visible: true
    title: chat.currentTitle + " — Hearth"
    color: Theme.window

    palette.window: Theme.window
    palette.windowText: Theme.text
    palette.base: Theme.surface
    palette.alternateBase: Theme.raised
    palette.text: Theme.text
    palette.button: Theme.raised
    palette.buttonText: Theme.text
    palette.highlight: Theme.accent
    palette.highlightedText: Theme.accentText
    palette.placeholderText: Theme.mutedText
    palette.mid: Theme.border
    palette.midlight: Theme.raised
    palette.dark: Theme.border
    palette.light: Theme.surface
    palette.shadow: Theme.border
    palette.toolTipBase: Theme.surface
    palette.toolTipText: Theme.text
    palette.brightText: Theme.text
    palette.link: Theme.accent

    AppSettings { id: settings }
    ChatController { id: chat }
    // Compare mode: the conversation's next message under 2-5 templates or sampling settings,
    // generated together on the chat's engine thread; a promoted reply joins the chat. Fresh
    // columns start from the Sampling panel's settings.
    property bool compareMode: false
    CompareController {
        id: compare
        engine: chat.engineWorker
        chatSampling: chat.sampling
        library: chat.library
        remoteServers: chat.remoteServers
        onPromoted: (userText, replyText) => {
            if (chat.appendExchange(userText, replyText))
                window.compareMode = false
        }
        // scripts/screenshots waits for this line of a --panel compare --compare-with run.
        onFinished: {
            if (window.compareWithArgument.length > 0 && window.demoPrompt.length > 0)
                console.info("compare finished")
        }
    }

    // The Quantization lab (issue 23): the Models panel's "Lab" opens it for a local model; it
    // runs on a thread of its own, beside the chat.
    property bool labMode: false
    QuantLabController {
        id: lab
        // scripts/screenshots waits for this line of a --panel lab --demo-prompt run.
        onFinished: (succeeded, cancelled) => {
            if (window.panelArgument === "lab" && window.demoPrompt.length > 0)
                console.info("quant lab finished:", succeeded ? "ok" : cancelled ? "cancelled" : lab.error)
        }
    }

    Component.onCompleted: {
        // Bindings onto objects that Main does not declare.
        Theme.scheme = Qt.binding(() => themeArgument.length > 0 ? themeArgument : settings.theme)
        chat.templatePreview.active = Qt.binding(() => settings.rightPanel === "template")
        chat.templatePreview.highlightColor = Qt.binding(() => Theme.accent)
        if (settings.windowX >= 0 && settings.windowY >= 0) {
            x = settings.windowX
            y = settings.windowY
        }
        if (settings.maximized)
            showMaximized()
        // --panel compare opens the Compare view (with a template shoot-out for --demo-prompt).
        compareMode = panelArgument === "compare"
        if (panelArgument === "download") {
            settings.rightPanel = "models" // on its Download tab
            modelsPanel.showDownloads()
        } else if (panelArgument === "remote") {
            settings.rightPanel = "models" // on its Remote server tab
            modelsPanel.showRemote()
        } else if (panelArgument === "checklist") {
            settings.rightPanel = "models" // with the model's pre-flight checklist open
            modelsPanel.select(modelPathArgument)
        } else if (panelArgument.length > 0) {
            settings.rightPanel = ["none", "inspector", "compare", "copyas", "lab"].includes(panelArgument) ? "" : panelArgument
        }
        chat.start(modelPathArgument)
        // --panel lab: the lab for the model given (else the chat's); --demo-prompt starts it.
        if (panelArgument === "lab") {
            lab.modelPath = modelPathArgument.length > 0 ? modelPathArgument : chat.modelPath
            labMode = true
            if (demoPrompt.length > 0)
                lab.start()
        } else if (demoPrompt.length > 0 && compareMode && compareWithArgument.length > 0) {
            Qt.callLater(() => {
                compare.compareQuantizations("", compareWithArgument)
                for (let i = 0; i < 2; ++i)
                    compare.setColumnValue(i, "temperature", 0)
                compare.send(demoPrompt)
            })
        } else if (demoPrompt.length > 0 && compareMode) {
            compare.templateShootout()
            compare.send(demoPrompt)
        } else if (demoPrompt.length > 0) {
            chat.newConversation()
            chat.send(demoPrompt)
        }
        chatView.focusComposer()
    }
    onClosing: {
        settings.maximized = visibility === Window.Maximized
        if (visibility === Window.Windowed) {
            settings.windowX = x
            settings.windowY = y
            settings.windowWidth = width
            settings.windowHeight = height
        }
    }

    Connections {
        target: chat
        // --panel remote: the connection test of the remote server in use, once connected.
        function onModelChanged() {
            if (window.panelArgument === "remote" && chat.remoteModel && chat.modelState === ChatController.Ready)
                modelsPanel.testRemote(chat.modelEndpoint)
        }
        function onReplyFinished() {
            if (window.panelArgument === "inspector")
                chatView.inspectLastReply(4)
            else if (window.panelArgument === "copyas")
                chatView.openCopyAs(2) // vLLM's: the most notes
        }
    }

    Shortcut { sequence: "Esc"; enabled: chat.busy; onActivated: chat.stop() }
    Shortcut { sequence: "Ctrl+K"; onActivated: { settings.sidebarVisible = true; sidebar.focusSearch() } }

    menuBar: MenuBar {
        Menu {
            title: qsTr("&File")
            Action { text: qsTr("&New chat"); shortcut: "Ctrl+N"; onTriggered: { chat.newConversation(); chatView.focusComposer() } }
            Action { text: qsTr("&Models…"); shortcut: "Ctrl+O"; onTriggered: settings.rightPanel = "models" }
            Action { text: qsTr("&Unload model"); enabled: chat.modelState === ChatController.Ready; onTriggered: chat.unloadModel() }
            MenuSeparator {}
            Action { text: qsTr("&Quit"); shortcut: "Ctrl+Q"; onTriggered: window.close() }
        }
        Menu {
            title: qsTr("&Edit")
            // The focused text field handles these itself; the menu names the keys.
            Action { text: qsTr("&Undo"); shortcut: "Ctrl+Z"; onTriggered: window.editAction("undo") }
            Action { text: qsTr("&Redo"); shortcut: "Ctrl+Shift+Z"; onTriggered: window.editAction("redo") }
            MenuSeparator {}
            Action { text: qsTr("Cu&t"); shortcut: "Ctrl+X"; onTriggered: window.editAction("cut") }
            Action { text: qsTr("&Copy"); shortcut: "Ctrl+C"; onTriggered: window.editAction("copy") }
            Action { text: qsTr("&Paste"); shortcut: "Ctrl+V"; onTriggered: window.editAction("paste") }
            Action { text: qsTr("Select &all"); shortcut: "Ctrl+A"; onTriggered: window.editAction("selectAll") }
            MenuSeparator {}
            Action { text: qsTr("Restore deleted conversation"); enabled: chat.canUndoDelete; onTriggered: chat.undoDelete() }
        }
        Menu {
            title: qsTr("&Chat")
            Action { text: qsTr("&Stop generating"); enabled: chat.busy; onTriggered: chat.stop() }
            Action { text: qsTr("&Regenerate reply"); shortcut: "Ctrl+R"; enabled: !chat.busy; onTriggered: chat.regenerate(false) }
            Action { text: qsTr("Regenerate with the &same seed"); shortcut: "Ctrl+Shift+R"; enabled: !chat.busy; onTriggered: chat.regenerate(true) }
            Action { text: qsTr("Copy &as request…"); enabled: !window.compareMode; onTriggered: chatView.openCopyAs() }
            MenuSeparator {}
            Action { text: qsTr("Search conversations"); onTriggered: { settings.sidebarVisible = true; sidebar.focusSearch() } }
            MenuSeparator {}
            Action { text: qsTr("C&ompare side by side"); checkable: true; checked: window.compareMode; shortcut: "Ctrl+M"; onTriggered: window.compareMode = !window.compareMode }
        }
        Menu {
            title: qsTr("&View")
            Action { text: qsTr("Conversations"); checkable: true; checked: settings.sidebarVisible; shortcut: "Ctrl+B"; onTriggered: settings.sidebarVisible = !settings.sidebarVisible }
            Action { text: qsTr("Models panel"); checkable: true; checked: settings.rightPanel === "models"; shortcut: "Ctrl+1"; onTriggered: window.showPanel("models") }
            Action { text: qsTr("Sampling panel"); checkable: true; checked: settings.rightPanel === "sampling"; shortcut: "Ctrl+2"; onTriggered: window.showPanel("sampling") }
            Action { text: qsTr("Template panel"); checkable: true; checked: settings.rightPanel === "template"; shortcut: "Ctrl+3"; onTriggered: window.showPanel("template") }
            Action { text: qsTr("Gauge panel"); checkable: true; checked: settings.rightPanel === "gauge"; shortcut: "Ctrl+4"; onTriggered: window.showPanel("gauge") }
            MenuSeparator {}
            Menu {
                title: qsTr("Theme")
                Action { text: qsTr("Follow the system"); checkable: true; checked: settings.theme === "system"; onTriggered: settings.theme = "system" }
                Action { text: qsTr("Light"); checkable: true; checked: settings.theme === "light"; onTriggered: settings.theme = "light" }
                Action { text: qsTr("Dark"); checkable: true; checked: settings.theme === "dark"; onTriggered: settings.theme = "dark" }
            }
        }
        Menu {
            title: qsTr("&Help")
            Action { text: qsTr("Keyboard shortcuts"); shortcut: "F1"; onTriggered: shortcutsDialog.open() }
            Action { text: qsTr("&About Hearth"); onTriggered: aboutDialog.open() }
        }
    }

    // Sends an edit command to whichever text field has the focus.
    function editAction(name: string) {
        const item = window.activeFocusItem
        if (item && typeof item[name] === "function")
            item[name]()
    }

    Dialog {
        id: aboutDialog
        objectName: "aboutDialog"
        title: qsTr("About Hearth")
        anchors.centerIn: parent
        // A fixed width: wrapped text inside would otherwise loop on implicitWidth.
        width: Math.min(460, window.width - 40)
        modal: true
        standardButtons: Dialog.Close
        contentItem: Label {
            text: qsTr("Hearth %1\nLarge language models on your own machine, on Hearth's own engine.").arg(Qt.application.version)
            color: Theme.text
            wrapMode: Text.Wrap
        }
    }
    Dialog {
        id: shortcutsDialog
        title: qsTr("Keyboard shortcuts")
        anchors.centerIn: parent
        // A fixed width: wrapped text inside would otherwise loop on implicitWidth.
        width: Math.min(460, window.width - 40)
        modal: true
        standardButtons: Dialog.Close
        contentItem: GridLayout {
            columns: 2
            columnSpacing: 2 * Theme.spacing
            Repeater {
                // Key, then what it does: the grid's two columns.
                model: ["Enter", qsTr("Send"), "Shift+Enter", qsTr("New line"),
                        "Esc", qsTr("Stop generating"), "Ctrl+N", qsTr("New chat"),
                        "Ctrl+K", qsTr("Search conversations"), "Ctrl+R", qsTr("Regenerate reply"),
                        "Ctrl+B", qsTr("Show or hide conversations"),
                        "Ctrl+1 … Ctrl+4", qsTr("Models, Sampling, Template, Gauge panels"),
                        "Ctrl+M", qsTr("Compare side by side"),
                        "Ctrl+O", qsTr("Models"), "Ctrl+Q", qsTr("Quit")]
                delegate: Label {
                    required property string modelData
                    required property int index
                    text: modelData
                    font.bold: index % 2 === 0
                    color: Theme.text
                }
            }
        }
    }

    RowLayout {
        anchors.fill: parent
        spacing: 0

        ConversationSidebar {
            id: sidebar
            Layout.fillHeight: true
            Layout.preferredWidth: Theme.sidebarWidth
            visible: settings.sidebarVisible
            controller: chat
        }
        Rectangle { Layout.fillHeight: true; implicitWidth: 1; color: Theme.border; visible: sidebar.visible }

        ChatView {
            id: chatView
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: !window.compareMode && !window.labMode
            controller: chat
            onCatalogRequested: {
                settings.rightPanel = "models"
                modelsPanel.showDownloads()
            }
            onModelsRequested: {
                settings.rightPanel = "models"
                modelsPanel.showLocal()
            }
        }
        CompareView {
            objectName: "compareView"
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: window.compareMode && !window.labMode
            controller: compare
        }
        QuantLabView {
            objectName: "quantLabView"
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: window.labMode
            controller: lab
            onCloseRequested: window.labMode = false
            onLoadRequested: path => {
                chat.loadModel(path)
                window.labMode = false
            }
            onCompareRequested: (reference, quantization) => {
                if (compare.compareQuantizations(reference, quantization)) {
                    window.labMode = false
                    window.compareMode = true
                }
            }
        }

        Rectangle { Layout.fillHeight: true; implicitWidth: 1; color: Theme.border; visible: panels.visible }
        Rectangle {
            id: panels
            Layout.fillHeight: true
            Layout.preferredWidth: Theme.panelWidth
            visible: settings.rightPanel.length > 0
            color: Theme.sidebar

            ColumnLayout {
                anchors.fill: parent
                spacing: 0
                RowLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    TabBar {
                        id: tabs
                        Layout.fillWidth: true
                        currentIndex: Math.max(0, window.panelNames.indexOf(settings.rightPanel))
                        TabButton { text: qsTr("Models"); onClicked: settings.rightPanel = "models" }
                        TabButton { text: qsTr("Sampling"); onClicked: settings.rightPanel = "sampling" }
                        TabButton { text: qsTr("Template"); onClicked: settings.rightPanel = "template" }
                        TabButton { text: qsTr("Gauge"); onClicked: settings.rightPanel = "gauge" }
                    }
                    ToolButton { text: "✕"; onClicked: settings.rightPanel = ""; Accessible.name: qsTr("Close panel") }
                }
                StackLayout {
                    Layout.fillWidth: true
                    Layout.fillHeight: true
                    currentIndex: Math.max(0, tabs.currentIndex)
                    ModelsPanel {
                        id: modelsPanel
                        controller: chat
                        onLabRequested: (path, trainedContext) => {
                            lab.modelPath = path
                            // llama-perplexity's 512, within what the model was trained for
                            lab.contextLength = trainedContext > 0 ? Math.min(512, trainedContext) : 512
                            window.labMode = true
                        }
                    }
                    SamplingPanel {
                        settings: chat.sampling
                        thinkingChoices: chat.thinkingChoices
                        ignoredKnobs: chat.ignoredKnobs
                        serverFamily: chat.serverFamily
                        canRerun: !chat.busy && chat.messages.count > 0 && chat.modelState === ChatController.Ready
                        onRerunRequested: chat.regenerate(true)
                    }
                    TemplatePanel { preview: chat.templatePreview }
                    GaugePanel { gauge: chat.gauge }
                }
            }
        }
    }

    footer: Rectangle {
        implicitHeight: 28
        color: Theme.sidebar
        Rectangle { anchors.top: parent.top; width: parent.width; height: 1; color: Theme.border }
        RowLayout {
            anchors.fill: parent
            anchors.leftMargin: Theme.spacing
            anchors.rightMargin: Theme.spacing
            Label {
                objectName: "statusText"
                text: chat.statusText
                color: Theme.mutedText
                font.pixelSize: 12
                elide: Text.ElideRight
                Layout.fillWidth: true
            }
            FlatButton {
                // The local server at work, whichever panel is open.
                objectName: "serverIndicator"
                visible: chat.server.state === LocalServer.Running
                text: qsTr("Server :%1 · %2 in flight").arg(chat.server.port).arg(chat.server.requestsInFlight)
                onClicked: settings.rightPanel = "models"
            }
            CompactGauge {
                gauge: chat.gauge
                onClicked: window.showPanel("gauge")
            }
        }
    }
}
