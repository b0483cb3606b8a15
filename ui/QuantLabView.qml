// The Quantization lab (issue 23), in the centre of the window for the local model the Models
// panel picked: the types to make (the common ones preselected), where to keep them, the text,
// context and windows; Start / Cancel with the engine's progress per stage; then a table of the
// figures with the seed's rule of thumb beside each, a chart of quality against memory with
// the rule's bands, and the type to pick for this machine's memory. `controller` is a
// QuantLabController; a row's "Load" asks the chat for that file (loadRequested).
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Dialogs
import QtQuick.Layouts
import Hearth

Rectangle {
    id: root
    required property QuantLabController controller
    signal closeRequested()
    signal loadRequested(string path)
    // "Compare with reference": Compare with two columns, the reference and this file.
    signal compareRequested(string reference, string quantization)
    color: Theme.window

    // The table's columns: title, width, and the text of a row's cell.
    readonly property var columns: [
        { title: qsTr("Type"), width: 132, cell: r => r.label + (r.reused ? " ↺" : "") },
        { title: qsTr("File"), width: 78, cell: r => r.fileSize },
        { title: qsTr("Memory"), width: 78, cell: r => r.memory },
        { title: qsTr("PPL Δ"), width: 64, cell: r => r.isReference ? r.perplexity.toFixed(3) : (r.perplexityChange >= 0 ? "+" : "") + r.perplexityChange.toFixed(2) + "%" },
        { title: qsTr("Mean KL"), width: 70, cell: r => r.meanKld.toFixed(5) },
        { title: qsTr("99% KL"), width: 70, cell: r => r.p99Kld.toFixed(4) },
        { title: qsTr("Top-1"), width: 58, cell: r => r.top1.toFixed(1) + "%" },
        { title: qsTr("Prefill t/s"), width: 74, cell: r => r.prefill > 0 ? r.prefill.toFixed(1) : "–" },
        { title: qsTr("Decode t/s"), width: 74, cell: r => r.decode > 0 ? r.decode.toFixed(1) : "–" }
    ]
    function fileName(path) { return path.substring(path.lastIndexOf("/") + 1) }

    FolderDialog {
        id: folderDialog
        title: qsTr("Where the quantizations are kept")
        onAccepted: root.controller.outputFolder = decodeURIComponent(selectedFolder.toString().replace(/^file:\/\//, ""))
    }
    FileDialog {
        id: textDialog
        title: qsTr("A text to score")
        nameFilters: [qsTr("Text files (*.txt *.md)"), qsTr("All files (*)")]
        onAccepted: root.controller.textFile = decodeURIComponent(selectedFile.toString().replace(/^file:\/\//, ""))
    }
    FileDialog {
        id: imatrixDialog
        title: qsTr("An importance matrix (hearth-cli imatrix, llama-imatrix)")
        nameFilters: [qsTr("Importance matrices (*.gguf *.dat)"), qsTr("All files (*)")]
        onAccepted: root.controller.imatrixFile = decodeURIComponent(selectedFile.toString().replace(/^file:\/\//, ""))
    }

    ScrollView {
        anchors.fill: parent
        contentWidth: availableWidth
        clip: true

        ColumnLayout {
            width: parent.width
            spacing: Theme.spacing

            RowLayout {
                Layout.fillWidth: true
                Layout.margins: Theme.spacing
                Label {
                    text: qsTr("Quantization lab")
                    font.pixelSize: 16
                    font.bold: true
                    color: Theme.text
                }
                Label {
                    objectName: "labModel"
                    Layout.fillWidth: true
                    text: root.fileName(root.controller.modelPath)
                    color: Theme.mutedText
                    elide: Text.ElideMiddle
                }
                FlatButton { objectName: "labClose"; text: qsTr("Close"); onClicked: root.closeRequested() }
            }

            // The settings.
            GridLayout {
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                Layout.rightMargin: Theme.spacing
                columns: 2
                columnSpacing: Theme.spacing
                enabled: !root.controller.running

                Label { text: qsTr("Types"); color: Theme.text; Layout.alignment: Qt.AlignTop | Qt.AlignLeft; topPadding: 8 }
                Flow {
                    Layout.fillWidth: true
                    spacing: 2
                    Repeater {
                        model: root.controller.typeChoices
                        CheckBox {
                            required property string modelData
                            objectName: "type_" + modelData
                            text: modelData
                            checked: root.controller.selectedTypes.indexOf(modelData) >= 0
                            onToggled: root.controller.setTypeSelected(modelData, checked)
                        }
                    }
                }
                Label { text: qsTr("Folder"); color: Theme.text }
                RowLayout {
                    Layout.fillWidth: true
                    TextField {
                        objectName: "labFolder"
                        Layout.fillWidth: true
                        text: root.controller.outputFolder
                        onEditingFinished: root.controller.outputFolder = text
                    }
                    FlatButton { text: qsTr("Choose…"); onClicked: folderDialog.open() }
                }
                Label { text: qsTr("Text"); color: Theme.text }
                RowLayout {
                    Layout.fillWidth: true
                    RadioButton {
                        text: qsTr("Built-in: %1").arg(root.controller.sampleTextName)
                        checked: root.controller.textFile.length === 0
                        onClicked: root.controller.textFile = ""
                    }
                    RadioButton {
                        Layout.fillWidth: true
                        text: root.controller.textFile.length > 0 ? root.fileName(root.controller.textFile) : qsTr("A file…")
                        checked: root.controller.textFile.length > 0
                        onClicked: textDialog.open()
                    }
                }
                Label { text: qsTr("Importance matrix"); color: Theme.text }
                RowLayout {
                    Layout.fillWidth: true
                    TextField {
                        objectName: "labImatrix"
                        Layout.fillWidth: true
                        placeholderText: qsTr("None: quantize without one")
                        text: root.controller.imatrixFile
                        onEditingFinished: root.controller.imatrixFile = text
                    }
                    FlatButton { text: qsTr("Choose…"); onClicked: imatrixDialog.open() }
                    FlatButton {
                        text: qsTr("Clear")
                        visible: root.controller.imatrixFile.length > 0
                        onClicked: root.controller.imatrixFile = ""
                    }
                }
                Label { text: qsTr("Context"); color: Theme.text }
                RowLayout {
                    SpinBox {
                        objectName: "labContext"
                        from: root.controller.minContext
                        to: root.controller.maxContext
                        editable: true
                        value: root.controller.contextLength
                        onValueModified: root.controller.contextLength = value
                    }
                    Label { text: qsTr("tokens per window · windows (0: all)"); color: Theme.mutedText }
                    SpinBox {
                        objectName: "labWindows"
                        from: 0
                        to: 100000
                        editable: true
                        value: root.controller.windows
                        onValueModified: root.controller.windows = value
                    }
                    CheckBox {
                        text: qsTr("Measure speed")
                        checked: root.controller.measureSpeed
                        onToggled: root.controller.measureSpeed = checked
                    }
                }
            }

            RowLayout {
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                Layout.rightMargin: Theme.spacing
                AccentButton {
                    objectName: "labStart"
                    text: qsTr("Start")
                    enabled: !root.controller.running && root.controller.modelPath.length > 0
                    onClicked: root.controller.start()
                }
                FlatButton {
                    objectName: "labCancel"
                    text: qsTr("Cancel")
                    enabled: root.controller.running
                    onClicked: root.controller.cancel()
                }
                Label {
                    objectName: "labStage"
                    text: root.controller.stage + (root.controller.stageTotal > 0 ? qsTr(": %1 of %2").arg(root.controller.stageDone).arg(root.controller.stageTotal) : "")
                    color: Theme.mutedText
                }
                ProgressBar {
                    Layout.fillWidth: true
                    visible: root.controller.running
                    from: 0
                    to: Math.max(1, root.controller.stageTotal)
                    value: root.controller.stageDone
                    indeterminate: root.controller.stageTotal === 0
                }
            }
            Label {
                objectName: "labError"
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                Layout.rightMargin: Theme.spacing
                visible: text.length > 0
                text: root.controller.error
                color: Theme.error
                wrapMode: Text.Wrap
            }

            // The results.
            Label {
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                visible: root.controller.results.length > 0
                text: root.controller.summary
                color: Theme.mutedText
                font.pixelSize: 12
                wrapMode: Text.Wrap
            }
            Label {
                objectName: "labVerdict"
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                Layout.rightMargin: Theme.spacing
                visible: text.length > 0
                text: root.controller.verdict
                color: Theme.text
                font.bold: true
                wrapMode: Text.Wrap
            }
            Rectangle {
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                Layout.rightMargin: Theme.spacing
                visible: root.controller.results.length > 0
                implicitHeight: table.implicitHeight + 2
                color: Theme.surface
                border.color: Theme.border
                radius: Theme.radius
                Flickable {
                    anchors.fill: parent
                    anchors.margins: 1
                    contentWidth: table.implicitWidth
                    flickableDirection: Flickable.HorizontalFlick
                    clip: true
                    Column {
                        id: table
                        objectName: "labTable"
                        Row {
                            Repeater {
                                model: root.columns
                                Label {
                                    required property var modelData
                                    width: modelData.width
                                    padding: 4
                                    text: modelData.title
                                    font.bold: true
                                    font.pixelSize: 12
                                    color: Theme.text
                                }
                            }
                            Label { width: 280; padding: 4; text: qsTr("Rule of thumb"); font.bold: true; font.pixelSize: 12; color: Theme.text }
                        }
                        Repeater {
                            model: root.controller.results
                            Rectangle {
                                id: tableRow
                                required property var modelData
                                required property int index
                                implicitWidth: cells.implicitWidth
                                implicitHeight: cells.implicitHeight
                                color: index % 2 === 0 ? Theme.raised : "transparent"
                                Row {
                                    id: cells
                                    Repeater {
                                        model: root.columns
                                        Label {
                                            required property var modelData
                                            width: modelData.width
                                            padding: 4
                                            anchors.verticalCenter: parent.verticalCenter
                                            text: modelData.cell(tableRow.modelData)
                                            elide: Text.ElideRight
                                            font.pixelSize: 12
                                            font.family: Theme.monoFamily
                                            color: Theme.text
                                        }
                                    }
                                    Label {
                                        width: 280
                                        padding: 4
                                        anchors.verticalCenter: parent.verticalCenter
                                        text: tableRow.modelData.isReference ? qsTr("the reference") : tableRow.modelData.ruleOfThumb
                                        font.pixelSize: 11
                                        color: Theme.mutedText
                                        elide: Text.ElideRight
                                    }
                                    FlatButton {
                                        objectName: "labLoad"
                                        text: qsTr("Load in chat")
                                        onClicked: root.loadRequested(tableRow.modelData.path)
                                    }
                                    FlatButton {
                                        objectName: "labCompare"
                                        visible: !tableRow.modelData.isReference
                                        text: qsTr("Compare with reference")
                                        ToolTip.visible: hovered
                                        ToolTip.delay: 600
                                        ToolTip.text: qsTr("Open Compare with the reference and this file side by side, the same seed: the reply is coloured by where their token distributions diverge")
                                        onClicked: root.compareRequested(root.controller.results[0].path, tableRow.modelData.path)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            QuantLabChart {
                objectName: "labChart"
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                Layout.rightMargin: Theme.spacing
                Layout.bottomMargin: Theme.spacing
                Layout.preferredHeight: 228
                visible: root.controller.results.length > 0
                rows: root.controller.results
                quality: byPerplexity.checked ? "perplexity" : "kld"
                // Which quality the vertical axis shows, beside the legend.
                Row {
                    anchors.right: parent.right
                    anchors.top: parent.top
                    RadioButton { id: byPerplexity; text: qsTr("perplexity change"); checked: true; padding: 0; font.pixelSize: 12 }
                    RadioButton { text: qsTr("mean KL divergence"); padding: 0; leftPadding: 8; font.pixelSize: 12 }
                }
            }
        }
    }
}
