// One message of the chat: Markdown text (code blocks in a monospace box with their own
// Copy button), the reply's statistics, and its actions (copy, edit and re-run, regenerate,
// delete). Read-only and selectable; shows a cursor while the reply streams in. A reply
// generated in this session can be shown as its tokens ("Inspect tokens"): clicking one
// opens the TokenInspector with the sampler's candidates for it.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Item {
    id: root

    required property string role
    required property string text
    required property bool streaming
    required property string stats
    required property int messageIndex
    required property var blocks
    required property var tokens // each generated token's visible text; [] when not traced
    required property string reasoning // the reply's thinking, "" when none
    required property bool thinking // streaming, and still in the reasoning
    required property string thinkingStats
    required property string answeredBy // a remote reply's "model · endpoint", "" for a local one
    required property string error // why the reply failed, "" when it did not
    property bool inspecting: false
    // The inspected token's trace (MessageListModel.tokenTrace): ChatView sets it when
    // tokenInspected(index) asks.
    property var inspectedTrace: ({})
    property int inspectedToken: -1
    property bool isLast: false
    property bool actionsEnabled: true
    readonly property bool isUser: role === "user"

    signal copyRequested(string text)
    signal regenerateRequested()
    signal deleteRequested()
    signal editRequested(string text)
    signal tokenInspected(int index)

    implicitHeight: bubble.height + Theme.spacing
    implicitWidth: 600

    property bool editing: false

    TextMetrics {
        id: userTextWidth
        font.pixelSize: 14
        text: root.isUser ? root.text : ""
    }

    Rectangle {
        id: bubble
        anchors.right: root.isUser ? parent.right : undefined
        anchors.left: root.isUser ? undefined : parent.left
        // A user's message is as wide as its text (one line measured), up to 80%.
        width: root.isUser ? Math.min(root.width * 0.8, Math.max(userTextWidth.advanceWidth, 200) + 2 * Theme.spacing + 8)
                           : root.width
        height: content.implicitHeight + 2 * Theme.spacing
        radius: Theme.radius
        color: root.isUser ? Theme.userBubble : "transparent"

        ColumnLayout {
            id: content
            anchors.fill: parent
            anchors.margins: Theme.spacing
            spacing: 6

            Label {
                text: root.isUser ? qsTr("You") : qsTr("Assistant")
                font.bold: true
                color: Theme.mutedText
                font.pixelSize: 12
            }

            ThinkingSection {
                objectName: "thinkingSection"
                Layout.fillWidth: true
                visible: !root.isUser && !root.inspecting && (root.reasoning.length > 0 || root.thinking)
                text: root.reasoning
                thinking: root.thinking
                summary: root.thinkingStats
            }

            Repeater {
                model: root.editing || root.inspecting ? [] : root.blocks
                delegate: Item {
                    id: block
                    required property var modelData
                    Layout.fillWidth: true
                    implicitHeight: childrenRect.height

                    // Only the kind of block this is gets created (a Loader cannot create
                    // bound components in 6.4; a Repeater of 0 or 1 can).
                    Repeater {
                        model: block.modelData.code ? 0 : 1
                        delegate: TextEdit {
                            width: block.width
                            objectName: "markdownText"
                            textFormat: TextEdit.MarkdownText
                            text: block.modelData.text
                            readOnly: true
                            selectByMouse: true
                            wrapMode: TextEdit.Wrap
                            color: Theme.text
                            selectionColor: Theme.selection
                            selectedTextColor: Theme.text
                            font.pixelSize: 14
                            onLinkActivated: (link) => Qt.openUrlExternally(link)
                        }
                    }

                    Repeater {
                        model: block.modelData.code ? 1 : 0
                        delegate: Rectangle {
                            width: block.width
                            implicitWidth: 300
                            implicitHeight: codeColumn.implicitHeight + 12
                            radius: 6
                            color: Theme.codeBackground
                            border.color: Theme.border

                            ColumnLayout {
                                id: codeColumn
                                anchors.fill: parent
                                anchors.margins: 6
                                spacing: 0
                                RowLayout {
                                    Layout.fillWidth: true
                                    Label {
                                        text: block.modelData.language.length > 0 ? block.modelData.language : qsTr("code")
                                        color: Theme.mutedText
                                        font.pixelSize: 11
                                        Layout.fillWidth: true
                                    }
                                    FlatButton {
                                        objectName: "copyCodeButton"
                                        text: qsTr("Copy code")
                                        font.pixelSize: 11
                                        onClicked: root.copyRequested(block.modelData.text)
                                    }
                                }
                                TextEdit {
                                    Layout.fillWidth: true
                                    text: block.modelData.text
                                    textFormat: TextEdit.PlainText
                                    readOnly: true
                                    selectByMouse: true
                                    wrapMode: TextEdit.WrapAnywhere
                                    font.family: Theme.monoFamily
                                    font.pixelSize: 13
                                    color: Theme.text
                                    selectionColor: Theme.selection
                                    selectedTextColor: Theme.text
                                }
                            }
                        }
                    }
                }
            }

            Flow {
                objectName: "tokenChips"
                visible: root.inspecting
                Layout.fillWidth: true
                spacing: 2
                Repeater {
                    model: root.inspecting ? root.tokens : []
                    delegate: AbstractButton {
                        id: chip
                        required property string modelData
                        required property int index
                        objectName: "tokenChip"
                        activeFocusOnTab: true
                        Accessible.name: qsTr("Token %1: %2").arg(index + 1).arg(modelData)
                        padding: 2
                        leftPadding: 4
                        rightPadding: 4
                        contentItem: Text {
                            text: chip.modelData
                            font.family: Theme.monoFamily
                            font.pixelSize: 13
                            color: chip.index === root.inspectedToken ? Theme.accentText : Theme.text
                        }
                        background: Rectangle {
                            radius: 3
                            color: chip.index === root.inspectedToken ? Theme.accent
                                   : chip.hovered || chip.visualFocus ? Theme.selection : Theme.raised
                            border.color: chip.visualFocus ? Theme.accent : "transparent"
                        }
                        onClicked: { root.inspectedToken = chip.index; root.tokenInspected(chip.index) }
                    }
                }
            }

            // Created only while a token is inspected: most messages never need one.
            Repeater {
                model: root.inspecting && root.inspectedToken >= 0 ? 1 : 0
                delegate: TokenInspector {
                    objectName: "tokenInspector"
                    Layout.fillWidth: true
                    trace: root.inspectedTrace
                    onCloseRequested: root.inspectedToken = -1
                }
            }

            Label {
                visible: root.streaming && root.text.length === 0 && root.reasoning.length === 0
                text: qsTr("Thinking…")
                color: Theme.mutedText
                font.italic: true
            }

            ColumnLayout {
                visible: root.editing
                Layout.fillWidth: true
                TextArea {
                    id: editor
                    Layout.fillWidth: true
                    Layout.preferredWidth: 420
                    wrapMode: TextEdit.Wrap
                    text: root.text
                    Accessible.name: qsTr("Edit message")
                }
                RowLayout {
                    Button {
                        text: qsTr("Save && re-run")
                        highlighted: true
                        onClicked: { root.editing = false; root.editRequested(editor.text) }
                    }
                    Button { text: qsTr("Cancel"); flat: true; onClicked: root.editing = false }
                }
            }

            // A failed reply: what went wrong, the text before it kept above; Regenerate retries.
            Label {
                objectName: "replyError"
                Layout.fillWidth: true
                visible: root.error.length > 0 && !root.streaming
                text: (root.text.length > 0 ? qsTr("The reply stopped: %1") : qsTr("No reply: %1")).arg(root.error)
                color: Theme.error
                wrapMode: Text.Wrap
                font.pixelSize: 12
            }
            // Which server and model answered, discreetly.
            Label {
                objectName: "answeredBy"
                visible: root.answeredBy.length > 0 && !root.streaming
                text: qsTr("answered by %1").arg(root.answeredBy)
                color: Theme.mutedText
                font.pixelSize: 10
                elide: Text.ElideMiddle
                Layout.maximumWidth: 560
            }

            RowLayout {
                spacing: 2
                visible: !root.streaming && !root.editing
                Label {
                    visible: root.stats.length > 0
                    text: root.stats
                    color: Theme.mutedText
                    font.pixelSize: 11
                    Layout.rightMargin: Theme.spacing
                }
                FlatButton {
                    objectName: "inspectButton"
                    visible: !root.isUser && root.tokens.length > 0
                    text: root.inspecting ? qsTr("Show text") : qsTr("Inspect tokens")
                    onClicked: { root.inspecting = !root.inspecting; root.inspectedToken = -1 }
                }
                FlatButton {
                    objectName: "copyButton"
                    text: qsTr("Copy")
                    onClicked: root.copyRequested(root.text)
                }
                FlatButton {
                    visible: root.isUser
                    enabled: root.actionsEnabled
                    text: qsTr("Edit")
                    onClicked: root.editing = true
                }
                FlatButton {
                    visible: !root.isUser && root.isLast
                    enabled: root.actionsEnabled
                    text: qsTr("Regenerate")
                    onClicked: root.regenerateRequested()
                }
                FlatButton {
                    enabled: root.actionsEnabled
                    text: qsTr("Delete")
                    onClicked: root.deleteRequested()
                }
            }
        }
    }
}
