// Composer: Enter sends, Shift+Enter is a new line, the button stops while busy.
import QtQuick
import QtTest
import Hearth

Item {
    id: top
    width: 600
    height: 200

    Component {
        id: composerComponent
        Composer { width: 500; busy: false }
    }
    SignalSpy { id: sendSpy; signalName: "sendRequested" }
    SignalSpy { id: stopSpy; signalName: "stopRequested" }

    TestCase {
        name: "Composer"
        when: windowShown

        function init() { sendSpy.clear(); stopSpy.clear() }

        function test_enterSendsShiftEnterBreaksLine() {
            const composer = createTemporaryObject(composerComponent, top)
            sendSpy.target = composer
            const input = findChild(composer, "composerInput")
            input.forceActiveFocus()
            keyClick(Qt.Key_H)
            keyClick(Qt.Key_I)
            keyClick(Qt.Key_Return, Qt.ShiftModifier)
            keyClick(Qt.Key_O)
            compare(composer.text, "hi\no")
            compare(sendSpy.count, 0)
            keyClick(Qt.Key_Return)
            compare(sendSpy.count, 1)
            compare(sendSpy.signalArguments[0][0], "hi\no")
        }

        function test_emptyOrUnavailableDoesNotSend() {
            const composer = createTemporaryObject(composerComponent, top)
            sendSpy.target = composer
            findChild(composer, "composerInput").forceActiveFocus()
            keyClick(Qt.Key_Space)
            keyClick(Qt.Key_Return)
            compare(sendSpy.count, 0)
            composer.text = "hello"
            composer.canSend = false
            keyClick(Qt.Key_Return)
            compare(sendSpy.count, 0)
            verify(!findChild(composer, "sendButton").enabled)
        }

        function test_stopWhileBusy() {
            const composer = createTemporaryObject(composerComponent, top, { busy: true })
            stopSpy.target = composer
            sendSpy.target = composer
            const button = findChild(composer, "sendButton")
            compare(button.text, "Stop")
            verify(button.enabled)
            mouseClick(button)
            compare(stopSpy.count, 1)
            composer.text = "queued"
            findChild(composer, "composerInput").forceActiveFocus()
            keyClick(Qt.Key_Return)
            compare(sendSpy.count, 0)
        }
    }
}
