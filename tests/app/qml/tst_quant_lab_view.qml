// QuantLabView without a run: the type checkboxes follow and edit the controller's selection
// (the common four preselected), Start waits for a model, a refused start shows the reason
// under the buttons, Close asks the window; and QuantLabChart paints made-up rows in both of
// its quality modes without a script error.
import QtQuick
import QtQuick.Controls
import QtTest
import Hearth

Item {
    id: top
    width: 1200
    height: 800

    Component {
        id: viewComponent
        QuantLabView {
            anchors.fill: parent
            controller: QuantLabController {}
        }
    }
    Component {
        id: chartComponent
        QuantLabChart {
            width: 600
            height: 260
        }
    }

    TestCase {
        name: "QuantLabView"
        when: windowShown

        function test_typesFollowTheController() {
            const view = createTemporaryObject(viewComponent, top)
            const lab = view.controller
            compare(findChild(view, "type_Q8_0").checked, true)
            compare(findChild(view, "type_Q4_K_M").checked, true)
            compare(findChild(view, "type_Q4_0").checked, false)
            mouseClick(findChild(view, "type_Q4_0"))
            verify(lab.isTypeSelected("Q4_0"))
            mouseClick(findChild(view, "type_Q8_0"))
            verify(!lab.isTypeSelected("Q8_0"))
            lab.selectedTypes = ["Q2_K"]
            compare(findChild(view, "type_Q4_0").checked, false)
            compare(findChild(view, "type_Q2_K").checked, true)
            verify(findChild(view, "labFolder").text.endsWith("/hearth/quant-lab"))
        }

        function test_startWaitsForAModelAndShowsRefusals() {
            const view = createTemporaryObject(viewComponent, top)
            const start = findChild(view, "labStart")
            compare(start.enabled, false)
            view.controller.modelPath = "/nonexistent/model.gguf"
            compare(findChild(view, "labModel").text, "model.gguf")
            compare(start.enabled, true)
            view.controller.textFile = "/nonexistent/lab-text.txt"
            mouseClick(start)
            const error = findChild(view, "labError")
            verify(error.visible)
            verify(error.text.indexOf("lab-text.txt") >= 0, error.text)
            compare(view.controller.running, false)
        }

        function test_closeAsksTheWindow() {
            const view = createTemporaryObject(viewComponent, top)
            const spy = createTemporaryObject(signalSpyComponent, top, { target: view, signalName: "closeRequested" })
            mouseClick(findChild(view, "labClose"))
            compare(spy.count, 1)
        }

        function test_chartPaintsRows() {
            const chart = createTemporaryObject(chartComponent, top)
            const canvas = findChild(chart, "labChartCanvas")
            const mib = 1024 * 1024
            chart.rows = [
                { label: "F16", memoryBytes: 300 * mib, perplexityChange: 0, meanKld: 0, ruleClass: "" },
                { label: "Q8_0", memoryBytes: 160 * mib, perplexityChange: 0.4, meanKld: 0.001, ruleClass: "INT8" },
                { label: "Q2_K", memoryBytes: 70 * mib, perplexityChange: 24, meanKld: 0.3, ruleClass: "INT2" }
            ]
            waitForRendering(chart)
            verify(canvas.available)
            chart.quality = "kld"
            waitForRendering(chart)
            chart.rows = []
            waitForRendering(chart)
        }
    }
    Component {
        id: signalSpyComponent
        SignalSpy {}
    }
}
