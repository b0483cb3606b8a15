// ModelsPanel: the load settings (device without a GPU says why, context and threads spin
// boxes that write the library), the local list's rows with their badges, no QML errors.
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
    }
}
