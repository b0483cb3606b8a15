// One column of the compare view: a header with the column's actions ("⋯": duplicate,
// remove, use the reply in the chat), its model, template and sampling settings, its reply
// as it streams (or why there is none: the column could not run, the model ended the reply at
// once, ...), a "show prompt" toggle with the prompt's diff against column 1, and a footer
// with the figures of its last generation. Edits go through
// CompareController.setColumnValue, which refuses out-of-range values (shown in red).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root
    required property var controller
    required property int index
    required property string templateName
    required property string modelPath
    required property string columnError
    required property string resolvedTemplate
    required property double temperature
    required property double topP
    required property int topK
    required property string seed
    required property int maxTokens
    required property string promptHtml
    required property int promptTokens
    required property int charsInserted
    required property int charsRemoved
    required property int tokensInserted
    required property int tokensRemoved
    required property var warnings
    required property string reply
    required property int generatedTokens
    required property double tokensPerSecond
    required property double ttftMs
    required property int sharedTokens
    required property string stopReason
    required property bool generating
    required property string replyNote
    required property string replyReasoning // shown collapsed above the reply
    required property int reasoningTokens
    // The two-quantization view (DivergenceReply): shown instead of the plain reply once the
    // reply is scored against another column's model.
    required property var divergenceTokens
    required property string divergenceSummary
    required property int firstDivergence
    required property int divergencePartner
    readonly property bool showsDivergence: !generating && divergenceTokens.length > 0

    color: Theme.surface
    border.color: Theme.border
    radius: Theme.radius

    function setValue(field, value) {
        root.controller.setColumnValue(root.index, field, value)
    }

    ColumnLayout {
        anchors.fill: parent
        anchors.margins: Theme.spacing
        spacing: Theme.spacing / 2

        // The header: the column's name and a "⋯" menu with its actions (a row of buttons is
        // clipped once four or five columns share the width), then the template picker.
        RowLayout {
            Layout.fillWidth: true
            spacing: 0
            Label {
                Layout.fillWidth: true
                text: qsTr("Column %1").arg(root.index + 1)
                font.bold: true
                color: Theme.text
                elide: Text.ElideRight
            }
            FlatButton {
                objectName: "columnMenuButton"
                text: "⋯"
                font.pixelSize: 16
                implicitWidth: 32
                Accessible.name: qsTr("Column %1 actions").arg(root.index + 1)
                ToolTip.visible: hovered
                ToolTip.delay: 600
                ToolTip.text: qsTr("Duplicate, remove, or use this column's reply in the chat")
                onClicked: columnMenu.popup(this, 0, height)
            }
            Menu {
                id: columnMenu
                objectName: "columnMenu"
                MenuItem {
                    objectName: "duplicateColumn"
                    text: qsTr("Duplicate column")
                    enabled: !root.controller.busy && root.controller.columns.count < root.controller.maxColumns
                    onTriggered: root.controller.duplicateColumn(root.index)
                }
                MenuItem {
                    objectName: "removeColumn"
                    text: qsTr("Remove column")
                    enabled: !root.controller.busy && root.controller.columns.count > root.controller.minColumns
                    onTriggered: root.controller.removeColumn(root.index)
                }
                MenuItem {
                    objectName: "promoteReply"
                    text: qsTr("Use this reply in the chat")
                    enabled: !root.generating && root.reply !== ""
                    onTriggered: root.controller.promote(root.index)
                }
            }
        }
        // The column's model: the chat's, or one of the Models panel's list. Columns on the same
        // model generate in one batch; each other model's columns run after the previous batch.
        ComboBox {
            id: modelBox
            objectName: "modelPicker"
            Layout.fillWidth: true
            implicitWidth: 100 // the layout gives it the column's width
            font.pixelSize: 12
            enabled: !root.controller.busy
            model: root.controller.modelChoices
            displayText: root.controller.modelLabel(root.modelPath)
            delegate: ItemDelegate {
                required property string modelData
                width: modelBox.width
                text: root.controller.modelLabel(modelData)
            }
            currentIndex: Math.max(0, root.controller.modelChoices.indexOf(root.modelPath))
            onActivated: (i) => root.setValue("modelPath", root.controller.modelChoices[i])
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: qsTr("The model this column runs. Columns on the same model generate together in one batch; the columns of each other model run as their own batch, one model after another, and need the memory to load it.")
        }
        ComboBox {
            id: templateBox
            objectName: "templatePicker"
            Layout.fillWidth: true
            implicitWidth: 100 // the layout gives it the column's width
            font.pixelSize: 12
            model: root.controller.templateChoices
            displayText: currentText === "" ? root.controller.ownTemplateLabel : currentText
            delegate: ItemDelegate {
                required property string modelData
                width: templateBox.width
                text: modelData === "" ? root.controller.ownTemplateLabel : modelData
            }
            currentIndex: Math.max(0, root.controller.templateChoices.indexOf(root.templateName))
            onActivated: (i) => root.setValue("templateName", root.controller.templateChoices[i])
        }

        GridLayout {
            Layout.fillWidth: true
            // Two rows of two in a narrow column, so that the seed keeps room for its digits.
            columns: root.width < 300 ? 2 : 4
            columnSpacing: Theme.spacing
            rowSpacing: 2
            Repeater {
                model: [
                    { label: qsTr("temp"), field: "temperature", value: root.temperature },
                    { label: qsTr("top-p"), field: "topP", value: root.topP },
                    { label: qsTr("top-k"), field: "topK", value: root.topK },
                    { label: qsTr("seed"), field: "seed", value: root.seed }
                ]
                delegate: ColumnLayout {
                    required property var modelData
                    Layout.fillWidth: true
                    // Seeds run to many digits.
                    Layout.preferredWidth: modelData.field === "seed" ? 3 : 1
                    spacing: 0
                    Label { text: modelData.label; color: Theme.mutedText; font.pixelSize: 11 }
                    TextField {
                        objectName: "field_" + modelData.field
                        Layout.fillWidth: true
                        implicitWidth: 40 // the layout shares the column's width out
                        text: String(modelData.value)
                        selectByMouse: true
                        font.pixelSize: 12
                        onEditingFinished: {
                            if (text !== String(modelData.value)
                                    && !root.controller.setColumnValue(root.index, modelData.field, text))
                                text = String(modelData.value)
                        }
                    }
                }
            }
        }

        Repeater {
            model: root.warnings
            delegate: Label {
                required property string modelData
                Layout.fillWidth: true
                text: "⚠ " + modelData
                wrapMode: Text.Wrap
                color: Theme.warning
                font.pixelSize: 11
            }
        }

        Switch {
            id: showPrompt
            objectName: "showPrompt"
            text: root.index === 0 ? qsTr("Show prompt") : qsTr("Show prompt diff")
            font.pixelSize: 12
            ToolTip.visible: hovered
            ToolTip.delay: 600
            ToolTip.text: root.index === 0
                          ? qsTr("The exact prompt this column's model sees; special tokens in bold purple")
                          : qsTr("The exact prompt, against column 1's: insertions on green, removals struck through on red, special tokens in bold purple")
        }
        ScrollView {
            id: promptScroll
            Layout.fillWidth: true
            Layout.preferredHeight: 160
            visible: showPrompt.checked
            // Wrap at the column's width: without it the rich text's implicit width loops.
            contentWidth: availableWidth
            TextArea {
                width: promptScroll.availableWidth
                objectName: "promptText"
                readOnly: true
                textFormat: TextEdit.RichText
                wrapMode: TextEdit.Wrap
                font.family: Theme.monoFamily
                font.pixelSize: 11
                color: Theme.text
                text: root.promptHtml
                background: Rectangle { color: Theme.codeBackground; radius: 4 }
            }
        }
        Label {
            visible: showPrompt.checked
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            font.pixelSize: 11
            color: Theme.mutedText
            text: root.promptTokens === 0
                  ? qsTr("Send a message to see this column's prompt.")
                  : root.index === 0
                  ? qsTr("%1 tokens, template %2").arg(root.promptTokens).arg(root.resolvedTemplate)
                  : qsTr("%1 tokens, template %2; against column 1: +%3 −%4 characters, +%5 −%6 tokens")
                    .arg(root.promptTokens).arg(root.resolvedTemplate)
                    .arg(root.charsInserted).arg(root.charsRemoved)
                    .arg(root.tokensInserted).arg(root.tokensRemoved)
        }

        Label {
            objectName: "columnError"
            Layout.fillWidth: true
            visible: root.columnError !== ""
            text: root.columnError
            wrapMode: Text.Wrap
            color: Theme.error
            font.pixelSize: 12
        }
        // A reasoning model's thinking: closed unless the user opens it, so that the columns'
        // answers stay side by side.
        ThinkingSection {
            objectName: "columnThinking"
            Layout.fillWidth: true
            Layout.maximumHeight: open ? replyScroll.height : implicitHeight
            clip: true
            text: root.replyReasoning
            summary: root.reasoningTokens > 0 ? qsTr("%1 tokens").arg(root.reasoningTokens) : ""
        }
        // Why there is no text: not sent yet, or how the reply ended (wrapped: a TextArea's
        // placeholder is cut to one line).
        Label {
            objectName: "replyNote"
            Layout.fillWidth: true
            visible: !root.generating && root.replyNote !== ""
            text: root.replyNote
            wrapMode: Text.Wrap
            color: Theme.mutedText
            font.pixelSize: 12
        }
        DivergenceReply {
            objectName: "divergenceReply"
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: root.showsDivergence
            tokens: root.divergenceTokens
            firstDivergence: root.firstDivergence
            scored: root.index === 0
            partner: root.divergencePartner
            summary: root.divergenceSummary
        }
        // Why there is no divergence view (another vocabulary, another prompt, ...).
        Label {
            objectName: "divergenceNote"
            Layout.fillWidth: true
            visible: !root.generating && !root.showsDivergence && root.divergenceSummary !== ""
            text: root.divergenceSummary
            wrapMode: Text.Wrap
            color: Theme.mutedText
            font.pixelSize: 11
        }
        ScrollView {
            id: replyScroll
            Layout.fillWidth: true
            Layout.fillHeight: true
            visible: !root.showsDivergence
            contentWidth: availableWidth
            TextArea {
                objectName: "replyText"
                width: replyScroll.availableWidth
                readOnly: true
                wrapMode: TextEdit.Wrap
                textFormat: TextEdit.PlainText
                color: Theme.text
                // A reply of white space alone gives way to the note on why it is empty.
                text: root.generating || root.replyNote === "" ? root.reply : ""
                placeholderText: root.generating ? qsTr("…") : ""
                background: null
            }
        }

        FlatButton {
            objectName: "promoteButton"
            Layout.alignment: Qt.AlignRight
            visible: !root.generating && root.reply !== ""
            text: qsTr("Use this reply")
            onClicked: root.controller.promote(root.index)
        }
        Label {
            objectName: "stats"
            Layout.fillWidth: true
            wrapMode: Text.Wrap
            font.pixelSize: 11
            color: Theme.mutedText
            text: qsTr("%1 tokens · %2 tok/s · first token %3 ms%4%5")
                  .arg(root.generatedTokens)
                  .arg(root.tokensPerSecond.toFixed(1))
                  .arg(root.ttftMs.toFixed(0))
                  .arg(root.sharedTokens > 0 ? qsTr(" · %1 prompt tokens shared").arg(root.sharedTokens) : "")
                  .arg(root.stopReason !== "" ? " · " + root.stopReason : "")
        }
    }
}
