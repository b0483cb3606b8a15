// FirstRunPanel (the empty state with no model) on a real ChatController: the catalog's
// recommended model on its card with its one-click button, the catalog and file buttons'
// signals, the models found on this computer (their count, at most four rows, the rest in
// the Models panel), no QML errors. Nothing is downloaded here: tst_first_run does that end
// to end against a local fake Hub.
import QtQuick
import QtTest
import Hearth

Item {
    id: testRoot
    width: 560
    height: 900

    ChatController { id: chat }
    Component {
        id: panelComponent
        FirstRunPanel { width: 520; controller: chat }
    }
    SignalSpy { id: spy }

    TestCase {
        name: "FirstRunPanel"
        when: windowShown

        function initTestCase() {
            failOnWarning(/TypeError|ReferenceError|Binding loop/)
        }

        function test_recommendedCard() {
            const panel = createTemporaryObject(panelComponent, testRoot)
            verify(chat.recommended.available)
            verify(findChild(panel, "recommendedCard").visible)
            compare(findChild(panel, "recommendedName").text, "Start with SmolLM2 135M Instruct")
            compare(chat.recommended.state, RecommendedModel.Idle)
            verify(chat.recommended.sizeText.indexOf("MiB") > 0, chat.recommended.sizeText)
            const button = findChild(panel, "downloadRecommended")
            verify(button.visible)
            compare(button.text, "Download and start chatting")
            // Nothing under way: no bar, no status, no pause or cancel.
            verify(!findChild(panel, "recommendedProgress").visible)
            verify(!findChild(panel, "recommendedStatus").visible)
            verify(!findChild(panel, "pauseRecommended").visible)
            verify(!findChild(panel, "cancelRecommended").visible)
        }

        function test_buttonsAskForTheCatalogAndAFile() {
            const panel = createTemporaryObject(panelComponent, testRoot)
            spy.target = panel
            spy.signalName = "catalogRequested"
            spy.clear()
            mouseClick(findChild(panel, "browseCatalog"))
            compare(spy.count, 1)
            spy.signalName = "openFileRequested"
            spy.clear()
            mouseClick(findChild(panel, "openModelFile"))
            compare(spy.count, 1)
        }

        function test_foundModels() {
            const panel = createTemporaryObject(panelComponent, testRoot)
            chat.library.rescan()
            tryCompare(chat.library, "scanning", false, 20000)
            const usable = chat.library.usableCount
            compare(chat.library.usableModels.length, usable)
            compare(findChild(panel, "foundModels").visible, usable > 0)
            const list = findChild(panel, "foundList")
            compare(list.count, usable)
            let shown = 0
            for (let i = 0; i < list.count; ++i) {
                if (list.itemAt(i).visible)
                    ++shown
            }
            compare(shown, Math.min(usable, panel.shownModels))
            compare(findChild(panel, "moreFound").visible, usable > panel.shownModels)
            if (usable > 0) {
                const count = findChild(panel, "foundCount").text
                verify(count.startsWith(usable === 1 ? "1 model found" : usable + " models found"), count)
            }
        }
    }
}
