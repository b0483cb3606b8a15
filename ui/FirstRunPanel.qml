// What the empty chat offers while no model is loaded: the catalog's recommended model,
// downloaded and loaded with one click (progress, pause, cancel, the SHA-256 check, why it
// failed), the models already on this computer (other apps' included, loaded where they
// are), and the ways to the catalog and to a file. Presentation only: RecommendedModel and
// ModelLibrary do the work.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ColumnLayout {
    id: root

    required property ChatController controller
    readonly property RecommendedModel recommended: controller.recommended
    readonly property ModelLibrary library: controller.library
    readonly property int phase: recommended.state
    // The found models shown here; the rest are in the Models panel.
    readonly property int shownModels: 4

    signal catalogRequested()
    signal modelsRequested()
    signal openFileRequested()

    spacing: 12

    // ---- the recommended model ----
    Rectangle {
        objectName: "recommendedCard"
        visible: root.recommended.available
        Layout.fillWidth: true
        implicitHeight: card.implicitHeight + 2 * 12
        radius: Theme.radius
        color: Theme.surface
        border.color: Theme.border

        ColumnLayout {
            id: card
            anchors.fill: parent
            anchors.margins: 12
            spacing: 6

            RowLayout {
                Layout.fillWidth: true
                Label {
                    objectName: "recommendedName"
                    Layout.fillWidth: true
                    text: qsTr("Start with %1").arg(root.recommended.name)
                    font.bold: true
                    color: Theme.text
                    elide: Text.ElideRight
                }
                Label {
                    text: root.recommended.quantization + " · " + root.recommended.sizeText
                    color: Theme.mutedText
                    font.pixelSize: 12
                }
            }
            Label {
                Layout.fillWidth: true
                text: root.recommended.description
                color: Theme.mutedText
                wrapMode: Text.Wrap
            }
            Label {
                Layout.fillWidth: true
                text: qsTr("From %1 on Hugging Face, checked against its SHA-256.").arg(root.recommended.repo)
                color: Theme.mutedText
                font.pixelSize: 11
                wrapMode: Text.Wrap
            }

            ProgressBar {
                objectName: "recommendedProgress"
                visible: root.phase === RecommendedModel.Preparing || root.phase === RecommendedModel.Downloading
                         || root.phase === RecommendedModel.Paused || root.phase === RecommendedModel.Verifying
                         || root.phase === RecommendedModel.Downloaded
                Layout.fillWidth: true
                from: 0
                to: 1
                value: Math.max(0, root.recommended.progress)
                indeterminate: root.phase === RecommendedModel.Preparing || root.phase === RecommendedModel.Verifying
                               || (root.phase === RecommendedModel.Downloading && root.recommended.progress < 0)
            }
            Label {
                objectName: "recommendedStatus"
                Layout.fillWidth: true
                visible: text.length > 0
                color: root.phase === RecommendedModel.Failed ? Theme.error : Theme.mutedText
                font.pixelSize: 12
                wrapMode: Text.Wrap
                text: root.phase === RecommendedModel.Preparing ? qsTr("Asking Hugging Face for the file…")
                    : root.phase === RecommendedModel.Downloading ? qsTr("Downloading · %1").arg(root.recommended.progressText)
                    : root.phase === RecommendedModel.Paused ? qsTr("Paused · %1").arg(root.recommended.progressText)
                    : root.phase === RecommendedModel.Verifying ? qsTr("Checking the file's SHA-256…")
                    : root.phase === RecommendedModel.Downloaded ? qsTr("Downloaded and verified.")
                    : root.phase === RecommendedModel.Failed ? qsTr("The download failed: %1").arg(root.recommended.error)
                    : ""
            }
            RowLayout {
                Layout.fillWidth: true
                AccentButton {
                    objectName: "downloadRecommended"
                    visible: root.phase === RecommendedModel.Idle || root.phase === RecommendedModel.Failed
                             || root.phase === RecommendedModel.Paused
                    text: root.phase === RecommendedModel.Failed ? qsTr("Try again")
                        : root.phase === RecommendedModel.Paused ? qsTr("Resume")
                        : qsTr("Download and start chatting")
                    onClicked: root.recommended.download()
                }
                FlatButton {
                    objectName: "pauseRecommended"
                    visible: root.phase === RecommendedModel.Downloading
                    text: qsTr("Pause")
                    onClicked: root.recommended.pause()
                }
                FlatButton {
                    objectName: "cancelRecommended"
                    visible: root.phase === RecommendedModel.Preparing || root.phase === RecommendedModel.Downloading
                             || root.phase === RecommendedModel.Paused
                    text: qsTr("Cancel")
                    onClicked: root.recommended.cancel()
                }
                Item { Layout.fillWidth: true }
            }
        }
    }

    // ---- models already on this computer ----
    ColumnLayout {
        objectName: "foundModels"
        visible: root.library.usableCount > 0
        Layout.fillWidth: true
        spacing: 4

        Label {
            objectName: "foundCount"
            Layout.fillWidth: true
            text: (root.library.usableCount === 1 ? qsTr("1 model found on this computer")
                                                  : qsTr("%1 models found on this computer").arg(root.library.usableCount))
                  + (root.library.otherAppCount > 0
                     ? qsTr(", %1 from other apps. They load from where they are; nothing is copied.").arg(root.library.otherAppCount)
                     : ".")
            color: Theme.text
            wrapMode: Text.Wrap
        }
        Repeater {
            objectName: "foundList"
            model: root.library.usableModels
            delegate: RowLayout {
                id: found
                required property int index
                required property var modelData
                readonly property string path: modelData.path
                readonly property string name: modelData.name
                readonly property string origin: modelData.origin
                readonly property string details: modelData.details
                visible: index < root.shownModels
                Layout.fillWidth: true
                ColumnLayout {
                    Layout.fillWidth: true
                    spacing: 0
                    Label {
                        Layout.fillWidth: true
                        text: found.name
                        color: Theme.text
                        elide: Text.ElideMiddle
                    }
                    Label {
                        Layout.fillWidth: true
                        text: found.origin + " · " + found.details
                        color: Theme.mutedText
                        font.pixelSize: 11
                        elide: Text.ElideRight
                    }
                }
                Button {
                    objectName: "loadFound"
                    text: qsTr("Load")
                    Accessible.name: qsTr("Load %1").arg(found.name)
                    enabled: root.controller.modelState !== ChatController.Loading
                    onClicked: root.controller.loadModel(found.path)
                }
            }
        }
        FlatButton {
            objectName: "moreFound"
            visible: root.library.usableCount > root.shownModels
            text: qsTr("%1 more in the Models panel").arg(root.library.usableCount - root.shownModels)
            onClicked: root.modelsRequested()
        }
    }

    // ---- elsewhere ----
    RowLayout {
        Layout.alignment: Qt.AlignHCenter
        FlatButton {
            objectName: "browseCatalog"
            text: qsTr("Browse the catalog…")
            font.pixelSize: 13
            onClicked: root.catalogRequested()
        }
        FlatButton {
            objectName: "openModelFile"
            text: qsTr("Open a GGUF file…")
            font.pixelSize: 13
            onClicked: root.openFileRequested()
        }
    }
}
