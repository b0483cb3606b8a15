// SamplingPanel against a real SamplingSettings: presets, fields, re-run.
import QtQuick
import QtTest
import Hearth

Item {
    id: top
    width: 360
    height: 1500

    SamplingSettings { id: sampling }
    Component {
        id: panelComponent
        SamplingPanel { width: 340; height: 1480; settings: sampling; canRerun: true }
    }
    SignalSpy { id: rerunSpy; signalName: "rerunRequested" }

    TestCase {
        name: "SamplingPanel"
        when: windowShown

        function test_presetButtons() {
            const panel = createTemporaryObject(panelComponent, top)
            sampling.applyPreset("Balanced")
            const greedy = findChild(panel, "presetGreedy")
            const balanced = findChild(panel, "presetBalanced")
            verify(balanced.checked)
            verify(!greedy.checked)
            mouseClick(greedy)
            compare(sampling.temperature, 0)
            compare(sampling.preset, "Greedy")
            tryCompare(greedy, "checked", true, 60000)
            verify(!balanced.checked)
        }

        function test_fieldEditsTheSetting() {
            const panel = createTemporaryObject(panelComponent, top)
            sampling.applyPreset("Balanced")
            const temperature = findChild(panel, "temperature")
            const field = findChild(temperature, "field")
            compare(field.text, "0.70")
            field.forceActiveFocus()
            field.selectAll()
            keyClick(Qt.Key_1)
            keyClick(Qt.Key_Period)
            keyClick(Qt.Key_2)
            keyClick(Qt.Key_Return)
            compare(sampling.temperature, 1.2)
            compare(sampling.preset, "")
            // The model's value flows back into the slider.
            sampling.temperature = 0.5
            compare(findChild(temperature, "slider").value, 0.5)
        }

        // A remote server's model: the knobs its family ignores are greyed and say who ignores
        // them; the others stay as they are.
        function test_knobsTheServerIgnoresAreGreyed() {
            const panel = createTemporaryObject(panelComponent, top,
                { ignoredKnobs: ["top-k", "min-p", "repetition penalty"], serverFamily: "vLLM" })
            const topK = findChild(panel, "topK")
            compare(topK.ignoredBy, "vLLM")
            verify(topK.opacity < 1)
            compare(findChild(panel, "temperature").ignoredBy, "")
            compare(findChild(panel, "temperature").opacity, 1)
            const local = createTemporaryObject(panelComponent, top)
            compare(findChild(local, "topK").ignoredBy, "")
        }

        function test_thinkingSwitchOnlyWhereTheTemplateHasOne() {
            sampling.thinking = ""
            const plain = createTemporaryObject(panelComponent, top)
            verify(!findChild(plain, "thinkingSwitch").visible)
            const panel = createTemporaryObject(panelComponent, top, { thinkingChoices: ["on", "off"] })
            verify(findChild(panel, "thinkingSwitch").visible)
            verify(findChild(panel, "thinking_default").checked)
            mouseClick(findChild(panel, "thinking_off"))
            compare(sampling.thinking, "off")
            tryCompare(findChild(panel, "thinking_off"), "checked", true, 60000)
            verify(!findChild(panel, "thinking_default").checked)
            // gpt-oss: an effort, not a switch (the other panels out of the way of the mouse).
            plain.visible = false
            panel.visible = false
            const effort = createTemporaryObject(panelComponent, top, { thinkingChoices: ["low", "medium", "high"] })
            const high = findChild(effort, "thinking_high")
            tryVerify(() => high.width > 0 && high.x + high.width <= effort.width, 60000)
            waitForRendering(effort)
            mouseClick(high)
            compare(sampling.thinking, "high")
            // A value no template offers reads as the default.
            sampling.thinking = "sideways"
            compare(sampling.thinking, "")
        }

        function test_rerun() {
            const panel = createTemporaryObject(panelComponent, top)
            rerunSpy.target = panel
            mouseClick(findChild(panel, "rerun"))
            compare(rerunSpy.count, 1)
        }
    }
}
