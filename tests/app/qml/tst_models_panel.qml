// ModelsPanel: the load settings (device without a GPU says why, GPU layers bound to the
// library and greyed on the CPU, the KV cache type with its note, context and threads spin
// boxes that write the library), the local list's rows with their badges, a model's
// pre-flight checklist on a click, no QML errors.
import QtQuick
import QtQuick.Controls
import QtTest
import Hearth

Item {
    id: testRoot
    width: 400
    height: 800

    ChatController { id: chat }
    Component {
        id: panelComponent
        ModelsPanel { width: 360; height: 800; controller: chat }
    }

    TestCase {
        name: "ModelsPanel"
        when: windowShown

        function initTestCase() {
            failOnWarning(/Component is not ready/)
            failOnWarning(/TypeError|ReferenceError/)
        }

        function test_deviceChoice() {
            const panel = createTemporaryObject(panelComponent, testRoot)
            const gpu = findChild(panel, "deviceGpu")
            compare(gpu.enabled, chat.library.gpuAvailable)
            const status = findChild(panel, "gpuStatus")
            verify(status.text.indexOf(chat.library.gpuStatus) >= 0)
            if (!chat.library.gpuAvailable) {
                verify(status.text.startsWith("No GPU: "))
                mouseClick(gpu)
                verify(chat.library.device !== "gpu")
            }
            mouseClick(findChild(panel, "deviceCpu"))
            compare(chat.library.device, "cpu")
            mouseClick(findChild(panel, "deviceAuto"))
            compare(chat.library.device, "auto")
        }

        function test_kvCacheType() {
            const panel = createTemporaryObject(panelComponent, testRoot)
            const f16 = findChild(panel, "kvF16")
            const q8 = findChild(panel, "kvQ8_0")
            const note = findChild(panel, "kvTypeNote")
            chat.library.kvType = "f16"
            verify(f16.checked && !q8.checked)
            verify(!note.visible)
            mouseClick(q8)
            compare(chat.library.kvType, "q8_0")
            verify(note.visible)
            verify(note.text.indexOf("half the memory") >= 0, note.text)
            mouseClick(f16)
            compare(chat.library.kvType, "f16")
            verify(!note.visible)
        }

        function test_gpuLayers() {
            const device = chat.library.device
            chat.library.gpuLayers = "auto"
            chat.library.rescan()
            tryCompare(chat.library, "scanning", false, 20000)
            const panel = createTemporaryObject(panelComponent, testRoot)
            const box = findChild(panel, "gpuLayers")
            compare(box.editText, "auto")
            // auto, all, then a count for each layer of the largest listed model
            compare(box.count, 2 + chat.library.layerCount)
            compare(box.enabled, chat.library.gpuAvailable && chat.library.device !== "cpu")
            chat.library.device = "cpu"
            verify(!box.enabled)

            // The library's value shows, listed or typed.
            chat.library.gpuLayers = "all"
            compare(box.editText, "all")
            compare(box.currentIndex, 1)
            chat.library.gpuLayers = "4096"
            compare(box.editText, "4096")
            compare(box.currentIndex, -1)

            // What is entered reaches the library; a bad value is refused and put back.
            box.editText = "7"
            box.accepted()
            compare(chat.library.gpuLayers, "7")
            const error = findChild(panel, "gpuLayersError")
            verify(!error.visible)
            box.editText = "many"
            box.accepted()
            compare(chat.library.gpuLayers, "7")
            compare(box.editText, "7")
            verify(error.visible)
            verify(error.text.indexOf("GPU layers 'many'") >= 0, error.text)

            chat.library.gpuLayers = "auto"
            verify(!error.visible)
            chat.library.device = device
        }

        function test_contextAndThreads() {
            chat.library.contextLength = 0
            chat.library.threads = 0
            const panel = createTemporaryObject(panelComponent, testRoot)
            const context = findChild(panel, "contextLength")
            compare(context.displayText, "auto")
            context.forceActiveFocus()
            keyClick(Qt.Key_Up)
            compare(chat.library.contextLength, 512)
            keyClick(Qt.Key_Down)
            compare(chat.library.contextLength, 0)
            const threads = findChild(panel, "threads")
            compare(threads.displayText, "auto")
            compare(threads.to, chat.library.maxThreads)
            threads.forceActiveFocus()
            keyClick(Qt.Key_Up)
            compare(chat.library.threads, 1)
            compare(threads.displayText, "1")
            chat.library.threads = 0
            compare(threads.displayText, "auto")
        }

        function test_listShowsScannedModels() {
            const panel = createTemporaryObject(panelComponent, testRoot)
            chat.library.rescan()
            tryCompare(chat.library, "scanning", false, 20000)
            const list = findChild(panel, "localModels")
            compare(list.count, chat.library.count)
            // Nothing loaded: no Unload button, no progress bar.
            verify(!findChild(panel, "unloadModel").visible)
            verify(!findChild(panel, "loadProgress").visible)
        }

        // A click on a listed model opens its pre-flight checklist, drawn from chat.preflight.
        function test_checklistOnSelect() {
            const panel = createTemporaryObject(panelComponent, testRoot)
            chat.library.rescan()
            tryCompare(chat.library, "scanning", false, 20000)
            const list = findChild(panel, "localModels")
            const firstLoadable = () => {
                for (let i = 0; i < list.count; ++i) {
                    const item = list.itemAt(i)
                    if (item && item.error.length === 0)
                        return item
                }
                return null
            }
            let entry = firstLoadable()
            if (!entry)
                skip("no loadable model listed")
            // The Local server and load settings above the list can push the entry below the
            // panel's fold, where a click would not reach it: scroll it into view first. A rescan
            // (the models folder watched while other tests run) recreates the delegates, so a
            // click that landed on a discarded one is repeated on the new one.
            for (let attempt = 0; attempt < 5 && panel.selectedPath === ""; ++attempt) {
                tryVerify(() => !chat.library.scanning && firstLoadable() !== null, 20000)
                entry = firstLoadable()
                panel.reveal(entry)
                tryVerify(() => entry.mapToItem(testRoot, 0, 0).y + 10 < testRoot.height, 5000)
                mouseClick(entry, 20, 10)
                if (panel.selectedPath === "")
                    wait(100)
            }
            compare(panel.selectedPath, entry.path)
            compare(chat.preflight.path, entry.path)
            const card = findChild(entry, "checklist")
            verify(card.visible)
            tryVerify(() => !chat.preflight.busy, 60000)
            verify(chat.preflight.error.length === 0, chat.preflight.error)
            const items = findChild(card, "checklistItems")
            compare(items.count, chat.preflight.items.length)
            verify(items.count >= 4)
        }
    }
}
