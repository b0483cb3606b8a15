// Hearth's window: conversations on the left, the chat in the centre, the Sampling,
// Template and Gauge panels on the right (collapsible), a status bar with the compact
// gauge. main.cpp sets the *Argument properties from the command line.
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
    readonly property ChatController controller: chat

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
        if (panelArgument.length > 0)
            settings.rightPanel = panelArgument === "none" ? "" : panelArgument
        chat.start(modelPathArgument)
        if (demoPrompt.length > 0) {
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

    Shortcut { sequence: "Esc"; enabled: chat.busy; onActivated: chat.stop() }
    Shortcut { sequence: "Ctrl+K"; onActivated: { settings.sidebarVisible = true; sidebar.focusSearch() } }

    menuBar: MenuBar {
        Menu {
            title: qsTr("&File")
            Action { text: qsTr("&New chat"); shortcut: "Ctrl+N"; onTriggered: { chat.newConversation(); chatView.focusComposer() } }
            Action { text: qsTr("&Unload model"); enabled: chat.modelState === ChatController.Ready; onTriggered: chat.unloadModel() }
            MenuSeparator {}
            Action { text: qsTr("&Quit"); shortcut: "Ctrl+Q"; onTriggered: window.close() }
        }
        Menu {
            title: qsTr("&Chat")
            Action { text: qsTr("&Stop generating"); enabled: chat.busy; onTriggered: chat.stop() }
            Action { text: qsTr("&Regenerate reply"); shortcut: "Ctrl+R"; enabled: !chat.busy; onTriggered: chat.regenerate(false) }
            Action { text: qsTr("Regenerate with the &same seed"); shortcut: "Ctrl+Shift+R"; enabled: !chat.busy; onTriggered: chat.regenerate(true) }
            MenuSeparator {}
            Action { text: qsTr("Search conversations"); onTriggered: { settings.sidebarVisible = true; sidebar.focusSearch() } }
        }
        Menu {
            title: qsTr("&View")
            Action { text: qsTr("Conversations"); checkable: true; checked: settings.sidebarVisible; shortcut: "Ctrl+B"; onTriggered: settings.sidebarVisible = !settings.sidebarVisible }
            Action { text: qsTr("Sampling panel"); checkable: true; checked: settings.rightPanel === "sampling"; shortcut: "Ctrl+1"; onTriggered: window.showPanel("sampling") }
            Action { text: qsTr("Template panel"); checkable: true; checked: settings.rightPanel === "template"; shortcut: "Ctrl+2"; onTriggered: window.showPanel("template") }
            Action { text: qsTr("Gauge panel"); checkable: true; checked: settings.rightPanel === "gauge"; shortcut: "Ctrl+3"; onTriggered: window.showPanel("gauge") }
            MenuSeparator {}
            Menu {
                title: qsTr("Theme")
                Action { text: qsTr("Follow the system"); checkable: true; checked: settings.theme === "system"; onTriggered: settings.theme = "system" }
                Action { text: qsTr("Light"); checkable: true; checked: settings.theme === "light"; onTriggered: settings.theme = "light" }
                Action { text: qsTr("Dark"); checkable: true; checked: settings.theme === "dark"; onTriggered: settings.theme = "dark" }
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
            controller: chat
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
                        currentIndex: settings.rightPanel === "template" ? 1 : settings.rightPanel === "gauge" ? 2 : 0
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
                    SamplingPanel {
                        settings: chat.sampling
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
            CompactGauge {
                gauge: chat.gauge
                onClicked: window.showPanel("gauge")
            }
        }
    }
}
