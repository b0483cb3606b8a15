// The Sampling panel: a reasoning model's thinking switch (where its template has one),
// presets, one SliderField per parameter, the seed, and "re-run the last reply with these
// settings". A change applies to the next generation.
pragma ComponentBehavior: Bound
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts
import Hearth

ScrollView {
    id: root

    required property SamplingSettings settings
    property bool canRerun: false
    // The loaded model's thinking switch (ChatController.thinkingChoices): ["on", "off"] or
    // ["low", "medium", "high"]; empty hides it.
    property var thinkingChoices: []
    // A remote model's server (ChatController.ignoredKnobs / serverFamily): the knobs it
    // ignores, in the panel's words ("top-k", "min-p", "repetition penalty", ...), are greyed.
    property var ignoredKnobs: []
    property string serverFamily: ""
    function ignoredBy(knob) { return ignoredKnobs.indexOf(knob) >= 0 ? serverFamily : "" }
    signal rerunRequested()

    contentWidth: availableWidth
    clip: true

    ColumnLayout {
        width: root.availableWidth - 2 * Theme.spacing
        x: Theme.spacing
        spacing: Theme.spacing

        Label {
            visible: root.thinkingChoices.length > 0
            text: root.thinkingChoices.length === 2 ? qsTr("Thinking") : qsTr("Reasoning effort")
            font.bold: true
            color: Theme.text
            Layout.topMargin: Theme.spacing
        }
        Flow {
            objectName: "thinkingSwitch"
            visible: root.thinkingChoices.length > 0
            Layout.fillWidth: true
            spacing: 6
            Repeater {
                // "" is the template's own default.
                model: [""].concat(root.thinkingChoices)
                delegate: Button {
                    required property string modelData
                    objectName: "thinking_" + (modelData.length > 0 ? modelData : "default")
                    text: modelData.length === 0 ? qsTr("Model default")
                          : modelData === "on" ? qsTr("On") : modelData === "off" ? qsTr("Off")
                          : modelData === "low" ? qsTr("Low") : modelData === "medium" ? qsTr("Medium")
                          : qsTr("High")
                    checkable: true
                    checked: root.settings.thinking === modelData
                    onClicked: root.settings.thinking = modelData
                }
            }
        }

        Label { text: qsTr("Presets"); font.bold: true; color: Theme.text; Layout.topMargin: Theme.spacing }
        Flow {
            Layout.fillWidth: true
            spacing: 6
            Repeater {
                model: root.settings.presets
                delegate: Button {
                    required property string modelData
                    objectName: "preset" + modelData
                    text: modelData
                    checkable: true
                    checked: root.settings.preset === modelData
                    onClicked: root.settings.applyPreset(modelData)
                }
            }
        }

        SliderField {
            Layout.fillWidth: true
            label: qsTr("Temperature"); hint: qsTr("0 is greedy: always the most likely token")
            ignoredBy: root.ignoredBy("temperature")
            objectName: "temperature"
            value: root.settings.temperature; from: 0; to: 2
            onEdited: (v) => root.settings.temperature = v
        }
        SliderField {
            Layout.fillWidth: true
            label: qsTr("Top-p"); hint: qsTr("Keep the smallest set of tokens whose probabilities add up to p; 1 is off")
            ignoredBy: root.ignoredBy("top-p")
            value: root.settings.topP; from: 0.01; to: 1
            onEdited: (v) => root.settings.topP = v
        }
        SliderField {
            Layout.fillWidth: true
            objectName: "topK"
            label: qsTr("Top-k"); hint: qsTr("Keep the k most likely tokens; 0 is off")
            ignoredBy: root.ignoredBy("top-k")
            value: root.settings.topK; from: 0; to: 200; stepSize: 1; decimals: 0
            onEdited: (v) => root.settings.topK = Math.round(v)
        }
        SliderField {
            Layout.fillWidth: true
            label: qsTr("Min-p"); hint: qsTr("Drop tokens less likely than min-p × the most likely one; 0 is off")
            ignoredBy: root.ignoredBy("min-p")
            value: root.settings.minP; from: 0; to: 0.5
            onEdited: (v) => root.settings.minP = v
        }
        SliderField {
            Layout.fillWidth: true
            label: qsTr("Repetition penalty"); hint: qsTr("Make recently used tokens less likely; 1 is off")
            ignoredBy: root.ignoredBy("repetition penalty")
            value: root.settings.repeatPenalty; from: 1; to: 2
            onEdited: (v) => root.settings.repeatPenalty = v
        }
        SliderField {
            Layout.fillWidth: true
            label: qsTr("Penalty window (tokens)"); hint: qsTr("How far back the penalties look; -1 is everything")
            ignoredBy: root.ignoredBy("repetition penalty")
            value: root.settings.repeatLastN; from: -1; to: 1024; stepSize: 1; decimals: 0
            onEdited: (v) => root.settings.repeatLastN = Math.round(v)
        }
        SliderField {
            Layout.fillWidth: true
            label: qsTr("Presence penalty")
            ignoredBy: root.ignoredBy("presence penalty")
            value: root.settings.presencePenalty; from: -2; to: 2
            onEdited: (v) => root.settings.presencePenalty = v
        }
        SliderField {
            Layout.fillWidth: true
            label: qsTr("Frequency penalty")
            ignoredBy: root.ignoredBy("frequency penalty")
            value: root.settings.frequencyPenalty; from: -2; to: 2
            onEdited: (v) => root.settings.frequencyPenalty = v
        }
        SliderField {
            Layout.fillWidth: true
            label: qsTr("Max tokens")
            ignoredBy: root.ignoredBy("max tokens")
            value: root.settings.maxTokens; from: 16; to: 4096; stepSize: 16; decimals: 0
            onEdited: (v) => root.settings.maxTokens = Math.round(v)
        }

        // Speculative decoding: drafts the model verifies several at a time (CPU only).
        Label { text: qsTr("Speculative decoding"); font.bold: true; color: Theme.text; Layout.topMargin: Theme.spacing }
        Flow {
            objectName: "speculation"
            Layout.fillWidth: true
            spacing: 6
            Repeater {
                model: ["off", "lookup", "draft"]
                delegate: Button {
                    required property string modelData
                    objectName: "speculation_" + modelData
                    text: modelData === "off" ? qsTr("Off")
                          : modelData === "lookup" ? qsTr("Prompt lookup") : qsTr("Draft model")
                    checkable: true
                    checked: root.settings.speculation === modelData
                    onClicked: root.settings.speculation = modelData
                }
            }
        }
        TextField {
            objectName: "draftModel"
            visible: root.settings.speculation === "draft"
            Layout.fillWidth: true
            placeholderText: qsTr("Draft model file (.gguf, same vocabulary)")
            text: root.settings.draftModel
            onEditingFinished: root.settings.draftModel = text
            Accessible.name: qsTr("Draft model file")
        }

        RowLayout {
            Layout.fillWidth: true
            opacity: root.ignoredBy("seed").length > 0 ? 0.45 : 1
            Label {
                text: qsTr("Seed"); color: Theme.text; Layout.fillWidth: true
                ToolTip.visible: root.ignoredBy("seed").length > 0 && seedHover.hovered
                ToolTip.text: qsTr("%1 ignores this setting").arg(root.ignoredBy("seed"))
                HoverHandler { id: seedHover }
            }
            CheckBox {
                objectName: "randomSeed"
                text: qsTr("Random")
                checked: root.settings.randomSeed
                onToggled: root.settings.randomSeed = checked
            }
            TextField {
                Layout.preferredWidth: 96
                enabled: !root.settings.randomSeed
                text: root.settings.seed
                validator: IntValidator { bottom: 0 }
                onEditingFinished: root.settings.seed = Number(text)
                Accessible.name: qsTr("Seed")
            }
        }

        Button {
            objectName: "rerun"
            Layout.fillWidth: true
            Layout.bottomMargin: Theme.spacing
            text: qsTr("Re-run last reply with these settings")
            enabled: root.canRerun
            onClicked: root.rerunRequested()
        }
    }
}
