// One column of the compare view: a header with the column's template and sampling
// settings, its reply as it streams, a "show prompt" toggle with the prompt's diff against
// column 1, and a footer with the figures of its last generation. Edits go through
// CompareController.setColumnValue, which refuses out-of-range values (shown in red).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
    id: root
    required property var controller
    required property int index
    required property string templateName
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

        RowLayout {
            Layout.fillWidth: true
            Label {
                text: qsTr("Column %1").arg(root.index + 1)
                font.bold: true
                color: Theme.text
            }
            ComboBox {
                id: templateBox
                objectName: "templatePicker"
                Layout.fillWidth: true
                Layout.minimumWidth: 100
                implicitWidth: 100
                model: root.controller.templateChoices
                displayText: currentText === "" ? qsTr("auto") : currentText
                delegate: ItemDelegate {
                    required property string modelData
                    width: templateBox.width
                    text: modelData === "" ? qsTr("auto") : modelData
                }
                currentIndex: Math.max(0, root.controller.templateChoices.indexOf(root.templateName))
                onActivated: (i) => root.setValue("templateName", root.controller.templateChoices[i])
            }
            FlatButton {
                text: qsTr("Duplicate")
                enabled: !root.controller.busy && root.controller.columns.count < root.controller.maxColumns
                onClicked: root.controller.duplicateColumn(root.index)
            }
            FlatButton {
                objectName: "removeColumn"
                text: qsTr("Remove")
                enabled: !root.controller.busy && root.controller.columns.count > root.controller.minColumns
                onClicked: root.controller.removeColumn(root.index)
            }
        }

        GridLayout {
            Layout.fillWidth: true
            columns: 4
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
            text: root.index === 0 ? qsTr("Show prompt") : qsTr("Show prompt (diff against column 1)")
            font.pixelSize: 12
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

        ScrollView {
            id: replyScroll
            Layout.fillWidth: true
            Layout.fillHeight: true
            contentWidth: availableWidth
            TextArea {
                objectName: "replyText"
                width: replyScroll.availableWidth
                readOnly: true
                wrapMode: TextEdit.Wrap
                textFormat: TextEdit.PlainText
                color: Theme.text
                text: root.reply
                placeholderText: root.generating ? qsTr("…") : qsTr("The reply appears here.")
                background: null
            }
        }

        RowLayout {
            Layout.fillWidth: true
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
            FlatButton {
                text: qsTr("Use this reply")
                enabled: !root.generating && root.reply !== ""
                onClicked: root.controller.promote(root.index)
            }
        }
    }
}
