// The Models panel's Download tab: the curated catalog (search, family and size filters,
// fit badges, each entry's architecture; those Hearth cannot run yet disabled, saying why),
// a field for a Hugging Face link or owner/repo that lists its GGUF files, and the download
// queue. A download whose header names a model Hearth cannot run is held, with the reason
// and "Download anyway". Presentation only: DownloadController does the work.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ScrollView {
    id: root

    // One per window (ChatController.downloads): a second controller would restore the same
    // interrupted downloads a second time.
    required property DownloadController controller
    // A finished model's path (a split model's first part), for the local model list.
    signal modelDownloaded(string path)

    contentWidth: availableWidth
    clip: true

    Connections {
        target: root.controller
        function onModelDownloaded(path) { root.modelDownloaded(path) }
    }

    ColumnLayout {
        width: root.availableWidth - 2 * Theme.spacing
        x: Theme.spacing
        spacing: Theme.spacing

        // Downloads in progress (and those just finished or failed).
        Label {
            text: qsTr("Downloads")
            font.bold: true
            color: Theme.text
            visible: downloadList.count > 0
            Layout.topMargin: Theme.spacing
        }
        Repeater {
            id: downloadList
            model: root.controller.downloads
            delegate: DownloadRow {
                controller: root.controller
                Layout.fillWidth: true
            }
        }
        Label {
            objectName: "lastError"
            visible: text.length > 0
            text: root.controller.lastError
            color: Theme.error
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }
        RowLayout {
            visible: root.controller.checkingFile.length > 0
            Layout.fillWidth: true
            BusyIndicator { running: parent.visible; implicitWidth: 20; implicitHeight: 20 }
            Label {
                text: qsTr("Reading the header of %1…").arg(root.controller.checkingFile)
                color: Theme.mutedText
                elide: Text.ElideMiddle
                Layout.fillWidth: true
            }
        }
        // A download held because Hearth cannot run the model: why, and the user's choice.
        Rectangle {
            objectName: "heldDownload"
            visible: root.controller.heldMessage.length > 0
            Layout.fillWidth: true
            implicitHeight: heldColumn.implicitHeight + 2 * Theme.spacing
            radius: Theme.radius
            color: Theme.warningBackground
            border.color: Theme.warning
            ColumnLayout {
                id: heldColumn
                anchors.fill: parent
                anchors.margins: Theme.spacing
                Label {
                    objectName: "heldMessage"
                    text: qsTr("%1 was not downloaded: %2.")
                          .arg(root.controller.heldName).arg(root.controller.heldMessage)
                    color: Theme.text
                    wrapMode: Text.Wrap
                    Layout.fillWidth: true
                }
                RowLayout {
                    Layout.alignment: Qt.AlignRight
                    FlatButton {
                        text: qsTr("Cancel")
                        onClicked: root.controller.dismissHeld()
                    }
                    FlatButton {
                        objectName: "downloadAnyway"
                        text: qsTr("Download anyway")
                        onClicked: root.controller.downloadAnyway()
                    }
                }
            }
        }

        // Any Hugging Face link or owner/repo.
        Label { text: qsTr("From Hugging Face"); font.bold: true; color: Theme.text; Layout.topMargin: Theme.spacing }
        RowLayout {
            Layout.fillWidth: true
            TextField {
                id: linkField
                objectName: "linkField"
                Layout.fillWidth: true
                placeholderText: qsTr("owner/repo or https://huggingface.co/…")
                onAccepted: root.controller.lookup(text)
            }
            FlatButton {
                text: qsTr("List files")
                enabled: linkField.text.length > 0 && !root.controller.lookupBusy
                onClicked: root.controller.lookup(linkField.text)
            }
        }
        BusyIndicator { running: root.controller.lookupBusy; visible: running; Layout.alignment: Qt.AlignHCenter }
        Label {
            visible: text.length > 0
            text: root.controller.lookupError
            color: Theme.error
            wrapMode: Text.Wrap
            Layout.fillWidth: true
        }
        Repeater {
            model: root.controller.lookupFiles
            delegate: RowLayout {
                id: fileRow
                required property var modelData
                required property int index
                Layout.fillWidth: true
                // Set once "Check fit" read the header of a model Hearth cannot run.
                readonly property string cannotRun: modelData.cannotRun || ""
                Label {
                    text: fileRow.modelData.name
                          + (fileRow.modelData.parts > 1 ? qsTr(" (%1 parts)").arg(fileRow.modelData.parts) : "")
                          + (fileRow.modelData.architecture ? " · " + fileRow.modelData.architecture : "")
                    color: Theme.text
                    elide: Text.ElideMiddle
                    Layout.fillWidth: true
                    ToolTip.visible: hovered.hovered && (fileRow.modelData.probeError || fileRow.cannotRun).length > 0
                    ToolTip.text: fileRow.modelData.probeError || fileRow.cannotRun
                    HoverHandler { id: hovered }
                }
                Label { text: root.controller.formatBytes(fileRow.modelData.size); color: Theme.mutedText }
                DownloadFitBadge {
                    visible: fileRow.cannotRun.length === 0
                    fit: fileRow.modelData.fit
                    device: fileRow.modelData.fitDevice || ""
                    estimate: fileRow.modelData.neededBytes === undefined
                }
                Label {
                    visible: fileRow.cannotRun.length > 0
                    text: qsTr("Hearth cannot run it yet")
                    color: Theme.warning
                    font.pixelSize: 11
                }
                FlatButton {
                    text: qsTr("Check fit")
                    visible: fileRow.modelData.neededBytes === undefined && fileRow.cannotRun.length === 0
                    onClicked: root.controller.probe(fileRow.index)
                }
                AccentButton {
                    text: qsTr("Download")
                    enabled: fileRow.modelData.complete
                    onClicked: root.controller.downloadLookupFile(fileRow.index)
                }
            }
        }

        // The curated catalog.
        Label { text: qsTr("Catalog"); font.bold: true; color: Theme.text; Layout.topMargin: Theme.spacing }
        // The search on a line of its own: beside the filters it had no room in the panel.
        TextField {
            objectName: "searchField"
            Layout.fillWidth: true
            placeholderText: qsTr("Search models")
            onTextChanged: root.controller.searchText = text
        }
        RowLayout {
            Layout.fillWidth: true
            ComboBox {
                objectName: "familyFilter"
                Layout.fillWidth: true
                model: root.controller.families
                onActivated: index => root.controller.familyFilter = index === 0 ? "" : currentText
            }
            ComboBox {
                objectName: "sizeFilter"
                Layout.fillWidth: true
                textRole: "text"
                valueRole: "value"
                model: [{ text: qsTr("Any size"), value: "" },
                        { text: qsTr("Small (< 2B)"), value: "small" },
                        { text: qsTr("Medium (2–10B)"), value: "medium" },
                        { text: qsTr("Large (> 10B)"), value: "large" }]
                onActivated: root.controller.sizeFilter = currentValue
            }
        }
        Label {
            visible: root.controller.catalogError.length > 0
            text: root.controller.catalogError
            color: Theme.error
        }
        Repeater {
            id: catalogList
            objectName: "catalogList"
            model: root.controller.catalog
            delegate: Rectangle {
                id: entry
                required property var modelData
                // Why Hearth cannot run this entry yet; empty when it can.
                readonly property string cannotRun: modelData.cannotRun
                Layout.fillWidth: true
                implicitHeight: entryColumn.implicitHeight + 2 * Theme.spacing
                radius: Theme.radius
                color: entry.cannotRun.length > 0 ? Theme.raised : Theme.surface
                border.color: Theme.border

                ColumnLayout {
                    id: entryColumn
                    anchors.fill: parent
                    anchors.margins: Theme.spacing
                    spacing: 4
                    Label {
                        text: entry.modelData.name
                        font.bold: true
                        color: entry.cannotRun.length > 0 ? Theme.mutedText : Theme.text
                        elide: Text.ElideRight
                        Layout.fillWidth: true
                    }
                    // Under the name: side by side they overlapped in the panel's width.
                    Label {
                        objectName: "entryFacts"
                        text: entry.modelData.family + " · " + entry.modelData.architecture + " · "
                              + entry.modelData.license + " · "
                              + qsTr("%1K context").arg(Math.round(entry.modelData.contextLength / 1024))
                        color: Theme.mutedText
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    Label {
                        objectName: "cannotRun"
                        visible: entry.cannotRun.length > 0
                        text: entry.cannotRun
                        color: Theme.warning
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    Label {
                        text: entry.modelData.description
                        color: Theme.mutedText
                        wrapMode: Text.Wrap
                        Layout.fillWidth: true
                    }
                    Flow {
                        Layout.fillWidth: true
                        spacing: 6
                        Repeater {
                            model: entry.modelData.files
                            delegate: RowLayout {
                                id: quantRow
                                required property var modelData
                                spacing: 4
                                FlatButton {
                                    objectName: "quantButton"
                                    text: quantRow.modelData.quantization + "  "
                                          + (quantRow.modelData.sizeIsEstimate ? "≈" : "")
                                          + root.controller.formatBytes(quantRow.modelData.size)
                                          + (quantRow.modelData.cannotRun.length > 0 ? qsTr(" · not yet") : "")
                                    // Disabled until Hearth runs it: the entry (or " · not yet") says why.
                                    enabled: entry.cannotRun.length === 0 && quantRow.modelData.cannotRun.length === 0
                                    onClicked: root.controller.downloadCatalogFile(entry.modelData.id,
                                                                                   quantRow.modelData.quantization)
                                }
                                DownloadFitBadge {
                                    fit: quantRow.modelData.fit
                                    device: quantRow.modelData.fitDevice || ""
                                    estimate: true
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
