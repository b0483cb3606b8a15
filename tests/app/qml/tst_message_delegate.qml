// MessageDelegate: Markdown text, a code block with its own copy button, the actions.
import QtQuick
import QtTest
import Hearth

Item {
    id: top
    width: 700
    height: 500

    Component {
        id: delegateComponent
        MessageDelegate {
            width: 640
            role: "assistant"
            text: "Some **bold** text.\n```python\nprint(1)\n```"
            streaming: false
            stats: "12 tokens · 40.0 tok/s"
            messageIndex: 1
            isLast: true
            blocks: [{ code: false, text: "Some **bold** text.", language: "" },
                     { code: true, text: "print(1)", language: "python" }]
            tokens: []
        }
    }
    SignalSpy { id: copySpy; signalName: "copyRequested" }
    SignalSpy { id: regenerateSpy; signalName: "regenerateRequested" }

    TestCase {
        name: "MessageDelegate"
        when: windowShown

        function test_rendersMarkdownAndCode() {
            const message = createTemporaryObject(delegateComponent, top)
            const markdown = findChild(message, "markdownText")
            verify(markdown)
            // Markdown is rendered: the asterisks are formatting, not text.
            compare(markdown.getText(0, markdown.length), "Some bold text.")
            // The blocks take room in the bubble (a positioner once left them at height 0).
            verify(markdown.height > 10)
            verify(markdown.parent.height >= markdown.height)
            verify(message.height > 60)
        }

        function test_copyButtons() {
            const message = createTemporaryObject(delegateComponent, top)
            copySpy.target = message
            mouseClick(findChild(message, "copyButton"))
            compare(copySpy.count, 1)
            compare(copySpy.signalArguments[0][0], message.text)
            mouseClick(findChild(message, "copyCodeButton"))
            compare(copySpy.count, 2)
            compare(copySpy.signalArguments[1][0], "print(1)")
        }

        function test_streamingHidesActions() {
            const message = createTemporaryObject(delegateComponent, top, { streaming: true })
            verify(!findChild(message, "copyButton").visible)
            message.streaming = false
            verify(findChild(message, "copyButton").visible)
        }
    }
}
