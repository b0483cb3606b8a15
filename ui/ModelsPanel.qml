// The Models panel. Its first page lists the local GGUF models (Hearth's models folder,
// folders the user adds, and what LM Studio, GPT4All, Ollama and the Hugging Face cache
// downloaded) with what each is, where it came from and whether it fits at the chosen
// context and device, and loads / unloads them; the load settings (device, GPU
// layers, KV cache type, context length, threads) sit above the list. The pages sit in a TabBar + StackLayout so
// that more pages (downloads) can be added beside the local list.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Hearth

ColumnLayout {
    id: root

    required property ChatController controller
    readonly property ModelLibrary library: controller.library
    readonly property bool loading: controller.modelState === ChatController.Loading
    property string folderMessage: ""
    // The model whose pre-flight checklist is shown (a click on its entry selects it).
    property string selectedPath: ""
    // A model's "Lab" button: the Quantization lab for that file.
    signal labRequested(string path, int trainedContext)
    spacing: 0

    function select(path) {
        root.selectedPath = path
        root.revealPath = path
        root.controller.preflight.inspect(path)
    }
    // The entry whose checklist is scrolled into view as it grows, until the user scrolls:
    // the Local server and load settings above the list push it below the panel's fold.
    property string revealPath: ""
    function reveal(item) {
        const flick = page.contentItem // the ScrollView's Flickable
        const y = item.mapToItem(pageColumn, 0, 0).y - Theme.spacing
        flick.contentY = Math.max(0, Math.min(y, pageColumn.height - flick.height))
    }
    // A fix that names a smaller file of the model shows it in the download list.
    Connections {
        target: root.controller
        function onDownloadSuggested() { root.showDownloads() }
    }

    // The Download tab (the catalog), or the list of local models.
    function showDownloads() { pages.currentIndex = 1 }
    function showLocal() { pages.currentIndex = 0 }
    function showRemote() { pages.currentIndex = 2 }
    // The Remote server tab with `url` tested (what --panel remote shows).
    function testRemote(url) { pages.currentIndex = 2; remotePage.test(url) }

    FolderDialog {
        id: folderDialog
        title: qsTr("Add a folder of GGUF models")
        onAccepted: {
            if (!root.library.addFolder(selectedFolder))
                root.folderMessage = root.library.folderError()
        }
    }

    TabBar {
        id: pages
        Layout.fillWidth: true
        TabButton { text: qsTr("On this computer") }
        TabButton { text: qsTr("Download") }
        TabButton { objectName: "remoteTab"; text: qsTr("Remote server") }
    }

    StackLayout {
        Layout.fillWidth: true
        Layout.fillHeight: true
        currentIndex: pages.currentIndex

        // A ScrollView over a column, not a ListView: the list is short, and a ListView's
        // header is recreated on each model reset (Qt 6.4 then warns "Component is not
        // ready" under ComponentBehavior: Bound).
        ScrollView {
            id: page
            contentWidth: availableWidth
            clip: true
            Connections {
                target: page.contentItem
                function onMovementStarted() { root.revealPath = "" }
            }

            ColumnLayout {
                id: pageColumn
                width: page.availableWidth
                spacing: 6

                // ---- the loaded model, or the load in progress ----
                ColumnLayout {
                    Layout.fillWidth: true
                    Layout.margins: Theme.spacing
                    spacing: 4
                    Label {
                        Layout.fillWidth: true
                        text: root.controller.modelState === ChatController.Ready ? qsTr("Loaded: %1").arg(root.controller.modelName)
                              : root.loading ? qsTr("Loading %1…").arg(root.controller.modelName)
                              : root.controller.modelState === ChatController.Failed ? qsTr("Could not load: %1").arg(root.controller.modelError)
                              : qsTr("No model loaded")
                        color: root.controller.modelState === ChatController.Failed ? Theme.error : Theme.text
                        font.bold: true
                        wrapMode: Text.Wrap
                    }
                    Label {
                        Layout.fillWidth: true
                        visible: root.controller.modelState === ChatController.Ready
                        text: root.controller.modelDetails
                        color: Theme.mutedText
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                    }
                    RowLayout {
                        Layout.fillWidth: true
                        visible: root.loading
                        ProgressBar {
                            objectName: "loadProgress"
                            Layout.fillWidth: true
                            value: root.controller.loadProgress
                        }
                        Button {
                            objectName: "cancelLoad"
                            text: qsTr("Cancel")
                            onClicked: root.controller.cancelLoad()
                        }
                    }
                    Button {
                        objectName: "unloadModel"
                        visible: root.controller.modelState === ChatController.Ready
                        text: qsTr("Unload")
                        onClicked: root.controller.unloadModel()
                    }
                }

                Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: Theme.border }

                LocalServerSection {
                    Layout.fillWidth: true
                    Layout.leftMargin: Theme.spacing
                    Layout.rightMargin: Theme.spacing
                    server: root.controller.server
                }

                Rectangle { Layout.fillWidth: true; implicitHeight: 1; color: Theme.border }

                // ---- load settings ----
                GridLayout {
                    Layout.fillWidth: true
                    Layout.leftMargin: Theme.spacing
                    Layout.rightMargin: Theme.spacing
                    columns: 2
                    columnSpacing: Theme.spacing
                    rowSpacing: 4

                    Label { text: qsTr("Device"); color: Theme.text }
                    RowLayout {
                        spacing: 0
                        ButtonGroup { id: deviceGroup }
                        RadioButton {
                            objectName: "deviceAuto"
                            text: qsTr("Auto")
                            ButtonGroup.group: deviceGroup
                            checked: root.library.device === "auto"
                            onClicked: root.library.device = "auto"
                        }
                        RadioButton {
                            objectName: "deviceCpu"
                            text: qsTr("CPU")
                            ButtonGroup.group: deviceGroup
                            checked: root.library.device === "cpu"
                            onClicked: root.library.device = "cpu"
                        }
                        RadioButton {
                            objectName: "deviceGpu"
                            text: qsTr("GPU")
                            ButtonGroup.group: deviceGroup
                            enabled: root.library.gpuAvailable
                            checked: root.library.device === "gpu"
                            onClicked: root.library.device = "gpu"
                        }
                    }
                    Item { implicitWidth: 1 }
                    Label {
                        objectName: "gpuStatus"
                        Layout.fillWidth: true
                        text: root.library.gpuAvailable ? qsTr("GPU: %1").arg(root.library.gpuStatus)
                                                        : qsTr("No GPU: %1").arg(root.library.gpuStatus)
                        color: Theme.mutedText
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                    }

                    Label { text: qsTr("GPU layers"); color: Theme.text }
                    RowLayout {
                        id: gpuLayersRow
                        readonly property bool onCpu: !root.library.gpuAvailable || root.library.device === "cpu"
                        Layout.fillWidth: true
                        // A disabled control gets no hover: the row says why it is greyed.
                        ToolTip.visible: gpuLayersHover.hovered && onCpu
                        ToolTip.text: qsTr("runs on the CPU")
                        HoverHandler { id: gpuLayersHover }
                        ComboBox {
                            id: gpuLayersBox
                            objectName: "gpuLayers"
                            Layout.fillWidth: true
                            editable: true
                            enabled: !gpuLayersRow.onCpu
                            // Any other count can be typed.
                            model: root.library.gpuLayerChoices
                            Accessible.name: qsTr("Layers on the GPU: auto, all or a number")
                            readonly property string setting: root.library.gpuLayers
                            // The text too: an edit leaves currentIndex where it was.
                            function showSetting() {
                                currentIndex = find(setting)
                                editText = setting
                            }
                            Component.onCompleted: showSetting()
                            onSettingChanged: showSetting()
                            onModelChanged: showSetting()
                            onActivated: root.library.gpuLayers = currentText
                            // A refused value leaves the setting as it was: show it again.
                            onAccepted: { root.library.gpuLayers = editText; showSetting() }
                        }
                    }
                    Item { implicitWidth: 1; visible: gpuLayersError.visible }
                    Label {
                        id: gpuLayersError
                        objectName: "gpuLayersError"
                        Layout.fillWidth: true
                        visible: text.length > 0
                        text: root.library.gpuLayersError
                        color: Theme.error
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                    }

                    Label { text: qsTr("KV cache"); color: Theme.text }
                    RowLayout {
                        spacing: 0
                        ButtonGroup { id: kvGroup }
                        RadioButton {
                            objectName: "kvF16"
                            text: qsTr("F16")
                            ButtonGroup.group: kvGroup
                            checked: root.library.kvType === "f16"
                            onClicked: root.library.kvType = "f16"
                            Accessible.name: qsTr("KV cache in F16")
                        }
                        RadioButton {
                            objectName: "kvQ8_0"
                            // The note below says what it saves; the row stays as narrow
                            // as the panel.
                            text: qsTr("Q8_0")
                            ButtonGroup.group: kvGroup
                            checked: root.library.kvType === "q8_0"
                            onClicked: root.library.kvType = "q8_0"
                            Accessible.name: qsTr("KV cache in Q8_0, about half the memory")
                        }
                    }
                    Item { implicitWidth: 1; visible: kvTypeNote.visible }
                    Label {
                        id: kvTypeNote
                        objectName: "kvTypeNote"
                        Layout.fillWidth: true
                        visible: text.length > 0
                        text: root.library.kvTypeNote
                        color: Theme.mutedText
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                    }

                    Label { text: qsTr("Context"); color: Theme.text }
                    SpinBox {
                        objectName: "contextLength"
                        Layout.fillWidth: true
                        from: 0
                        to: 131072
                        stepSize: 512
                        editable: true
                        value: root.library.contextLength
                        onValueModified: root.library.contextLength = value
                        textFromValue: (v) => v === 0 ? qsTr("auto") : String(v)
                        valueFromText: (t) => t === qsTr("auto") ? 0 : parseInt(t, 10) || 0
                        Accessible.name: qsTr("Context length in tokens, 0 for automatic")
                    }

                    Label { text: qsTr("Threads"); color: Theme.text }
                    SpinBox {
                        objectName: "threads"
                        Layout.fillWidth: true
                        from: 0
                        to: root.library.maxThreads
                        editable: true
                        value: root.library.threads
                        onValueModified: root.library.threads = value
                        textFromValue: (v) => v === 0 ? qsTr("auto") : String(v)
                        valueFromText: (t) => t === qsTr("auto") ? 0 : parseInt(t, 10) || 0
                        Accessible.name: qsTr("CPU threads, 0 for automatic")
                    }
                    Item { implicitWidth: 1 }
                    Label {
                        Layout.fillWidth: true
                        text: qsTr("Applies to the next load. Fit badges are for %1 at this context.").arg(root.library.effectiveDevice)
                        color: Theme.mutedText
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                    }
                }

                RowLayout {
                    Layout.fillWidth: true
                    Layout.leftMargin: Theme.spacing
                    Layout.rightMargin: Theme.spacing
                    Label {
                        Layout.fillWidth: true
                        text: root.library.scanning ? qsTr("Looking for models…")
                                                    : qsTr("%n model(s)", "", root.library.count)
                        color: Theme.text
                        font.bold: true
                    }
                    FlatButton {
                        objectName: "rescan"
                        text: qsTr("Rescan")
                        enabled: !root.library.scanning
                        onClicked: root.library.rescan()
                    }
                }
                Label {
                    Layout.fillWidth: true
                    Layout.leftMargin: Theme.spacing
                    Layout.rightMargin: Theme.spacing
                    visible: !root.library.scanning && root.library.count === 0
                    text: qsTr("No GGUF model found in %1 or in the other apps' folders listed below.")
                              .arg(root.library.modelsDirectory)
                    color: Theme.mutedText
                    wrapMode: Text.Wrap
                }
                Repeater {
                    objectName: "localModels"
                    model: root.library
                    delegate: Rectangle {
                        id: entry
                        required property int index
                        required property string path
                        required property string name
                        required property string source
                        required property string repo
                        required property string architecture
                        required property string quantization
                        required property string parameters
                        required property string fileSize
                        required property string details
                        required property int trainedContext
                        required property int parts
                        required property string error
                        required property string fit
                        required property string fitDetail
                        required property bool loaded
                        required property string origin

                        Layout.fillWidth: true
                        Layout.leftMargin: Theme.spacing
                        Layout.rightMargin: Theme.spacing
                        implicitHeight: entryColumn.implicitHeight + 2 * Theme.spacing
                        radius: Theme.radius
                        color: loaded ? Theme.userBubble : Theme.surface
                        border.color: Theme.border

                        ToolTip.visible: hover.hovered && fitDetail.length > 0
                        ToolTip.text: path + "\n" + fitDetail
                        HoverHandler { id: hover }
                        TapHandler {
                            enabled: entry.error.length === 0
                            onTapped: root.select(entry.path)
                        }

                        ColumnLayout {
                            id: entryColumn
                            anchors.fill: parent
                            anchors.margins: Theme.spacing
                            spacing: 2

                            RowLayout {
                                Layout.fillWidth: true
                                Label {
                                    Layout.fillWidth: true
                                    text: entry.name
                                    font.bold: true
                                    color: Theme.text
                                    elide: Text.ElideMiddle
                                }
                                Rectangle {
                                    objectName: "fitBadge"
                                    visible: entry.fit.length > 0
                                    implicitWidth: badgeText.implicitWidth + 10
                                    implicitHeight: badgeText.implicitHeight + 4
                                    radius: height / 2
                                    color: "transparent"
                                    border.color: badgeText.color
                                    Label {
                                        id: badgeText
                                        anchors.centerIn: parent
                                        text: entry.fit
                                        font.pixelSize: 11
                                        color: entry.fit === "fits" ? Theme.success
                                               : entry.fit === "tight" || entry.fit === "partial" ? Theme.warning
                                               : Theme.error
                                    }
                                }
                            }
                            Label {
                                Layout.fillWidth: true
                                visible: entry.error.length === 0
                                text: entry.details
                                color: Theme.text
                                font.pixelSize: 12
                                wrapMode: Text.Wrap
                            }
                            Label {
                                objectName: "modelOrigin"
                                Layout.fillWidth: true
                                text: entry.origin
                                color: Theme.mutedText
                                font.pixelSize: 11
                                elide: Text.ElideRight
                            }
                            Label {
                                objectName: "modelError"
                                Layout.fillWidth: true
                                visible: entry.error.length > 0
                                text: entry.error
                                color: Theme.error
                                font.pixelSize: 11
                                wrapMode: Text.Wrap
                            }
                            ChecklistCard {
                                objectName: "checklist"
                                Layout.fillWidth: true
                                Layout.topMargin: 4
                                visible: entry.path === root.selectedPath
                                card: root.controller.preflight
                                onHeightChanged: {
                                    if (visible && root.revealPath === entry.path)
                                        Qt.callLater(root.reveal, entry)
                                }
                            }
                            RowLayout {
                                Layout.fillWidth: true
                                Label {
                                    Layout.fillWidth: true
                                    visible: entry.loaded
                                    text: qsTr("In use")
                                    color: Theme.accent
                                    font.pixelSize: 12
                                }
                                Item { Layout.fillWidth: true; visible: !entry.loaded }
                                Button {
                                    objectName: "labButton"
                                    visible: entry.error.length === 0
                                    text: qsTr("Lab")
                                    ToolTip.visible: hovered
                                    ToolTip.delay: 600
                                    ToolTip.text: qsTr("Quantization lab: make this model's quantizations and measure what each costs in quality, memory and speed")
                                    onClicked: root.labRequested(entry.path, entry.trainedContext)
                                }
                                Button {
                                    objectName: "loadButton"
                                    visible: !entry.loaded && entry.error.length === 0
                                    enabled: !root.loading
                                    text: qsTr("Load")
                                    onClicked: root.controller.loadModel(entry.path)
                                }
                            }
                        }
                    }
                }
                Rectangle { Layout.fillWidth: true; Layout.topMargin: Theme.spacing; implicitHeight: 1; color: Theme.border }
                Label {
                    Layout.leftMargin: Theme.spacing
                    text: qsTr("Folders")
                    font.bold: true
                    color: Theme.text
                }
                Label {
                    Layout.fillWidth: true
                    Layout.leftMargin: Theme.spacing
                    Layout.rightMargin: Theme.spacing
                    text: qsTr("Always searched: %1, and what other apps downloaded (used where it is, not copied):")
                              .arg(root.library.modelsDirectory)
                    color: Theme.mutedText
                    font.pixelSize: 11
                    wrapMode: Text.WrapAnywhere
                }
                Repeater {
                    objectName: "otherAppFolders"
                    model: root.library.otherAppFolders
                    delegate: Label {
                        required property string modelData
                        Layout.fillWidth: true
                        Layout.leftMargin: 2 * Theme.spacing
                        Layout.rightMargin: Theme.spacing
                        text: modelData
                        color: Theme.mutedText
                        font.pixelSize: 11
                        wrapMode: Text.WrapAnywhere
                    }
                }
                Repeater {
                    model: root.library.folders
                    delegate: RowLayout {
                        id: folderRow
                        required property string modelData
                        Layout.fillWidth: true
                        Layout.leftMargin: Theme.spacing
                        Layout.rightMargin: Theme.spacing
                        Label {
                            Layout.fillWidth: true
                            text: folderRow.modelData
                            color: Theme.text
                            elide: Text.ElideMiddle
                        }
                        FlatButton {
                            text: qsTr("Remove")
                            Accessible.name: qsTr("Remove folder %1").arg(folderRow.modelData)
                            onClicked: root.library.removeFolder(folderRow.modelData)
                        }
                    }
                }
                Label {
                    Layout.fillWidth: true
                    Layout.leftMargin: Theme.spacing
                    visible: text.length > 0
                    text: root.folderMessage
                    color: Theme.error
                    font.pixelSize: 11
                    wrapMode: Text.Wrap
                }
                Button {
                    objectName: "addFolder"
                    Layout.leftMargin: Theme.spacing
                    Layout.bottomMargin: Theme.spacing
                    text: qsTr("Add folder…")
                    onClicked: { root.folderMessage = ""; folderDialog.open() }
                }
            }
        }

        // The catalog, Hugging Face links and the download queue, on the controller the
        // empty state's recommended download shares; a finished model joins the list of the
        // first page at once (ChatController rescans).
        DownloadPage {
            objectName: "downloadPage"
            controller: root.controller.downloads
        }

        // Remote OpenAI-compatible servers as models (issue 20).
        RemoteServerPage {
            id: remotePage
            objectName: "remoteServerPage"
            controller: root.controller
        }
    }
}
