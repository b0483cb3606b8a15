// The Models panel's "Local server": a switch that serves the loaded model to other programs
// on this computer over an OpenAI-compatible API (loopback only), its URL, port, slots and
// API key, and live figures: requests in flight / served / refused, slot occupancy and the
// queue, tokens/s of the server's requests and of the model. The server, the chat and Compare
// share the model; the chat keeps a slot of its own.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ColumnLayout {
    id: root

    required property LocalServer server
    readonly property bool running: server.state === LocalServer.Running
    // A generated key, shown until the user closes it: it is not shown again.
    property string shownKey: ""
    spacing: 4

    component Figure: ColumnLayout {
        required property string label
        required property string value
        spacing: 0
        Layout.fillWidth: true
        Label { text: parent.label; color: Theme.mutedText; font.pixelSize: 11 }
        Label { text: parent.value; color: Theme.text; font.pixelSize: 14; font.bold: true }
    }

    RowLayout {
        Layout.fillWidth: true
        Label {
            Layout.fillWidth: true
            text: qsTr("Local server")
            color: Theme.text
            font.bold: true
        }
        Switch {
            objectName: "serverSwitch"
            // The track in the accent colour when on (the style draws it in palette.dark).
            palette.dark: Theme.accent
            checked: root.server.enabled
            onToggled: root.server.enabled = checked
            Accessible.name: qsTr("Serve the loaded model over an OpenAI-compatible API")
        }
    }
    Label {
        Layout.fillWidth: true
        text: qsTr("An OpenAI-compatible API for programs on this computer only (127.0.0.1, no CORS).")
        color: Theme.mutedText
        font.pixelSize: 11
        wrapMode: Text.Wrap
    }
    RowLayout {
        Layout.fillWidth: true
        Label {
            objectName: "serverUrl"
            Layout.fillWidth: true
            text: root.server.url
            color: root.running ? Theme.text : Theme.mutedText
            font.family: Theme.monoFamily
            font.pixelSize: 12
            elide: Text.ElideRight
        }
        FlatButton {
            text: qsTr("Copy URL")
            onClicked: root.server.copyToClipboard(root.server.url)
        }
    }
    Label {
        objectName: "serverState"
        Layout.fillWidth: true
        text: root.running ? qsTr("Running · the chat keeps its own slot")
              : root.server.state === LocalServer.Starting ? qsTr("Starting… (after the reply being written, if any)")
              : root.server.state === LocalServer.Waiting ? qsTr("On: starts when a model is loaded")
              : qsTr("Off")
        color: root.running ? Theme.success : Theme.mutedText
        font.pixelSize: 12
        wrapMode: Text.Wrap
    }
    Label {
        objectName: "serverError"
        Layout.fillWidth: true
        visible: text.length > 0
        text: root.server.error
        color: Theme.error
        font.pixelSize: 12
        wrapMode: Text.Wrap
    }
    Label {
        Layout.fillWidth: true
        visible: text.length > 0
        text: root.server.note
        color: Theme.warning
        font.pixelSize: 12
        wrapMode: Text.Wrap
    }

    GridLayout {
        Layout.fillWidth: true
        visible: root.running
        columns: 3
        columnSpacing: Theme.spacing
        rowSpacing: 4
        Figure { objectName: "serverInFlight"; label: qsTr("In flight"); value: String(root.server.requestsInFlight) }
        Figure { label: qsTr("Served"); value: String(root.server.requestsServed) }
        Figure { label: qsTr("Refused"); value: String(root.server.requestsRefused) }
        Figure {
            objectName: "serverSlots"
            label: qsTr("Slots busy")
            value: qsTr("%1 of %2").arg(root.server.slotsBusy).arg(root.server.slotCount)
        }
        Figure { label: qsTr("Server's"); value: qsTr("%1 of %2").arg(root.server.serverSlotsBusy).arg(Math.max(0, root.server.slotCount - 1)) }
        Figure { label: qsTr("Queue"); value: String(root.server.queueLength) }
        Figure { label: qsTr("Server tok/s"); value: root.server.serverTokensPerSecond.toFixed(1) }
        Figure { label: qsTr("Model tok/s"); value: root.server.modelTokensPerSecond.toFixed(1) }
        Figure { label: qsTr("Tokens served"); value: String(root.server.tokensServed) }
    }

    GridLayout {
        Layout.fillWidth: true
        columns: 2
        columnSpacing: Theme.spacing
        rowSpacing: 4
        Label { text: qsTr("Port"); color: Theme.text }
        SpinBox {
            objectName: "serverPort"
            Layout.fillWidth: true
            from: 1
            to: 65535
            editable: true
            value: root.server.port
            onValueModified: root.server.port = value
            textFromValue: (v) => String(v)
            valueFromText: (t) => parseInt(t, 10) || root.server.port
            Accessible.name: qsTr("TCP port of the local server")
        }
        Label { text: qsTr("Slots"); color: Theme.text }
        SpinBox {
            objectName: "serverSlotCount"
            Layout.fillWidth: true
            from: 1
            to: 8
            value: root.server.serverSlots
            onValueModified: root.server.serverSlots = value
            Accessible.name: qsTr("Requests the server runs at once, beside the chat")
        }
        Item { implicitWidth: 1; visible: root.server.memoryText.length > 0 }
        Label {
            objectName: "serverMemory"
            Layout.fillWidth: true
            visible: text.length > 0
            text: qsTr("Costs %1 beside the chat's.").arg(root.server.memoryText)
            color: Theme.mutedText
            font.pixelSize: 11
            wrapMode: Text.Wrap
        }
        Label { text: qsTr("API key"); color: Theme.text }
        RowLayout {
            Layout.fillWidth: true
            spacing: 0
            Label {
                Layout.fillWidth: true
                text: root.server.hasApiKey ? qsTr("required") : qsTr("none")
                color: Theme.mutedText
                font.pixelSize: 12
            }
            FlatButton {
                objectName: "generateKey"
                text: qsTr("Generate")
                onClicked: root.shownKey = root.server.generateApiKey()
            }
            FlatButton {
                text: qsTr("Remove")
                visible: root.server.hasApiKey
                onClicked: {
                    root.server.clearApiKey()
                    root.shownKey = ""
                }
            }
        }
    }
    // The new key, once: copy it now; it is kept for this session only.
    ColumnLayout {
        Layout.fillWidth: true
        visible: root.shownKey.length > 0
        spacing: 2
        TextField {
            Layout.fillWidth: true
            readOnly: true
            selectByMouse: true
            text: root.shownKey
            font.family: Theme.monoFamily
            font.pixelSize: 11
        }
        RowLayout {
            Layout.fillWidth: true
            Label {
                Layout.fillWidth: true
                text: qsTr("Shown once; kept until Hearth quits.")
                color: Theme.mutedText
                font.pixelSize: 11
                wrapMode: Text.Wrap
            }
            FlatButton { text: qsTr("Copy key"); onClicked: root.server.copyToClipboard(root.shownKey) }
            FlatButton { text: qsTr("Hide"); onClicked: root.shownKey = "" }
        }
    }
}
