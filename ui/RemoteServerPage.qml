// The Models panel's "Remote server" page (issue 20): an OpenAI-compatible server (vLLM, TGI,
// llama.cpp's server, Ollama, another Hearth) as a model. Base URL and API key, a connection
// test that says what the server is and what it supports, the model chosen from its
// /v1/models, then the saved entries, each loaded like a local model.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ScrollView {
    id: root

    required property ChatController controller
    readonly property RemoteServers servers: controller.remoteServers
    readonly property var result: servers.testResult
    readonly property bool tested: result.ok === true
    contentWidth: availableWidth
    clip: true

    // Tests `url` with the key typed (none by default), as the button does.
    function test(url) {
        urlField.text = url
        servers.testConnection(url, keyField.text)
    }

    ColumnLayout {
        width: root.availableWidth
        spacing: 6

        Label {
            Layout.fillWidth: true
            Layout.margins: Theme.spacing
            text: qsTr("Chat with a model served elsewhere over the OpenAI API: vLLM, Text Generation Inference, llama.cpp's server, Ollama or another Hearth.")
            color: Theme.mutedText
            font.pixelSize: 11
            wrapMode: Text.Wrap
        }

        GridLayout {
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacing
            Layout.rightMargin: Theme.spacing
            columns: 2
            columnSpacing: Theme.spacing
            rowSpacing: 4

            Label { text: qsTr("Base URL"); color: Theme.text }
            TextField {
                id: urlField
                objectName: "remoteUrl"
                Layout.fillWidth: true
                placeholderText: "http://gpu-box:8000/v1"
                selectByMouse: true
            }
            Label { text: qsTr("API key"); color: Theme.text }
            TextField {
                id: keyField
                objectName: "remoteKey"
                Layout.fillWidth: true
                placeholderText: qsTr("none")
                echoMode: TextInput.Password
                selectByMouse: true
            }
        }
        Label {
            objectName: "keyStorage"
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacing
            Layout.rightMargin: Theme.spacing
            text: root.servers.keyStorage
            color: root.servers.keysPersistent ? Theme.mutedText : Theme.warning
            font.pixelSize: 11
            wrapMode: Text.Wrap
        }
        RowLayout {
            Layout.leftMargin: Theme.spacing
            Button {
                objectName: "testConnection"
                text: root.servers.testing ? qsTr("Testing…") : qsTr("Test connection")
                enabled: urlField.text.length > 0 && !root.servers.testing
                onClicked: root.servers.testConnection(urlField.text, keyField.text)
            }
            BusyIndicator { visible: root.servers.testing; running: visible; implicitWidth: 24; implicitHeight: 24 }
        }

        // ---- what the connection test found ----
        Rectangle {
            objectName: "testResult"
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacing
            Layout.rightMargin: Theme.spacing
            visible: root.result.url !== undefined
            implicitHeight: resultColumn.implicitHeight + 2 * Theme.spacing
            radius: Theme.radius
            color: Theme.surface
            border.color: root.tested ? Theme.border : Theme.error

            ColumnLayout {
                id: resultColumn
                anchors.fill: parent
                anchors.margins: Theme.spacing
                spacing: 3
                Label {
                    objectName: "testHeadline"
                    Layout.fillWidth: true
                    text: root.tested ? qsTr("Connected: %1 at %2").arg(root.result.server).arg(root.result.url)
                                      : qsTr("Could not connect: %1").arg(root.result.error ?? "")
                    color: root.tested ? Theme.success : Theme.error
                    font.bold: true
                    wrapMode: Text.Wrap
                }
                Repeater {
                    model: root.tested ? root.result.facts : []
                    delegate: Label {
                        required property string modelData
                        Layout.fillWidth: true
                        text: "· " + modelData
                        color: Theme.text
                        font.pixelSize: 11
                        wrapMode: Text.Wrap
                    }
                }
                Label {
                    Layout.fillWidth: true
                    visible: root.tested
                    text: (root.result.completions ? qsTr("Raw prompts (/v1/completions): yes, so Compare can test templates against it.")
                                                   : qsTr("Raw prompts (/v1/completions): no, the server applies its own template."))
                    color: Theme.text
                    font.pixelSize: 11
                    wrapMode: Text.Wrap
                }
                Label {
                    objectName: "testIgnored"
                    Layout.fillWidth: true
                    visible: root.tested
                    text: (root.result.ignored ?? []).length > 0
                          ? qsTr("%1 ignores: %2").arg(root.result.family).arg(root.result.ignored.join(", "))
                          : qsTr("Takes every sampling setting Hearth has.")
                    color: Theme.mutedText
                    font.pixelSize: 11
                    wrapMode: Text.Wrap
                }
            }
        }

        GridLayout {
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacing
            Layout.rightMargin: Theme.spacing
            visible: root.tested
            columns: 2
            columnSpacing: Theme.spacing
            rowSpacing: 4
            Label { text: qsTr("Model"); color: Theme.text }
            ComboBox {
                id: modelBox
                objectName: "remoteModel"
                Layout.fillWidth: true
                model: root.tested ? root.result.models : []
            }
            Label { text: qsTr("Name"); color: Theme.text }
            TextField {
                id: nameField
                objectName: "remoteName"
                Layout.fillWidth: true
                placeholderText: modelBox.currentText
                selectByMouse: true
            }
        }
        RowLayout {
            Layout.leftMargin: Theme.spacing
            visible: root.tested
            AccentButton {
                objectName: "addRemote"
                text: qsTr("Add and use")
                enabled: modelBox.currentText.length > 0
                onClicked: {
                    const path = root.servers.add(nameField.text, urlField.text, keyField.text, modelBox.currentText)
                    if (path.length > 0) {
                        keyField.text = ""
                        root.controller.loadModel(path)
                    }
                }
            }
        }
        Label {
            Layout.fillWidth: true
            Layout.leftMargin: Theme.spacing
            visible: root.servers.lastError.length > 0
            text: root.servers.lastError
            color: Theme.error
            wrapMode: Text.Wrap
        }

        Rectangle { Layout.fillWidth: true; Layout.topMargin: Theme.spacing; implicitHeight: 1; color: Theme.border }
        Label {
            Layout.leftMargin: Theme.spacing
            text: root.servers.count > 0 ? qsTr("Remote servers") : qsTr("No remote server yet")
            color: Theme.text
            font.bold: true
        }
        Repeater {
            objectName: "remoteEntries"
            model: root.servers
            delegate: Rectangle {
                id: entry
                required property string name
                required property string url
                required property string model
                required property string path
                required property bool loaded
                Layout.fillWidth: true
                Layout.leftMargin: Theme.spacing
                Layout.rightMargin: Theme.spacing
                implicitHeight: entryRow.implicitHeight + Theme.spacing
                radius: 6
                color: loaded ? Theme.selection : "transparent"
                ColumnLayout {
                    id: entryRow
                    anchors.fill: parent
                    anchors.margins: Theme.spacing / 2
                    spacing: 1
                    Label { text: entry.name; color: Theme.text; font.bold: true; elide: Text.ElideRight; Layout.fillWidth: true }
                    Label { text: entry.model + " · " + entry.url; color: Theme.mutedText; font.pixelSize: 11; elide: Text.ElideMiddle; Layout.fillWidth: true }
                    RowLayout {
                        Button {
                            objectName: "useRemote"
                            text: entry.loaded ? qsTr("In use") : qsTr("Use")
                            enabled: !entry.loaded
                            onClicked: root.controller.loadModel(entry.path)
                        }
                        FlatButton {
                            text: qsTr("Set key")
                            ToolTip.visible: hovered
                            ToolTip.text: qsTr("Use the API key typed above for this server")
                            onClicked: { root.servers.setKey(entry.path, keyField.text); keyField.text = "" }
                        }
                        FlatButton {
                            text: qsTr("Remove")
                            onClicked: root.servers.remove(entry.path)
                        }
                    }
                }
            }
        }
        Item { Layout.fillHeight: true }
    }
}
