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
            reasoning: ""
            thinking: false
            thinkingStats: ""
            answeredBy: ""
            error: ""
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

        // A remote reply says discreetly who answered; a failed one says why, under what arrived.
        function test_answeredByAndError() {
            const plain = createTemporaryObject(delegateComponent, top)
            verify(!findChild(plain, "answeredBy").visible)
            verify(!findChild(plain, "replyError").visible)
            const remote = createTemporaryObject(delegateComponent, top, {
                answeredBy: "llama-70b · http://gpu-box:8000/v1",
                error: "the stream stopped before the reply was complete" })
            verify(findChild(remote, "answeredBy").visible)
            compare(findChild(remote, "answeredBy").text, "answered by llama-70b · http://gpu-box:8000/v1")
            verify(findChild(remote, "replyError").visible)
            compare(findChild(remote, "replyError").text,
                    "The reply stopped: the stream stopped before the reply was complete")
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

        function test_thinkingOpenWhileItStreamsThenClosed() {
            const message = createTemporaryObject(delegateComponent, top, {
                streaming: true, text: "", blocks: [], reasoning: "Two plus two is four.",
                thinking: true })
            const section = findChild(message, "thinkingSection")
            verify(section.visible)
            compare(findChild(message, "thinkingTitle").text, "Thinking…")
            const open = findChild(message, "thinkingText")
            verify(open)
            compare(open.text, "Two plus two is four.")
            // The answer starts: the section closes and says what the thinking took.
            message.thinking = false
            message.streaming = false
            message.text = "4."
            message.blocks = [{ code: false, text: "4.", language: "" }]
            message.thinkingStats = "Thought for 1.2 s · 31 tokens · 25.0 tok/s"
            verify(!findChild(message, "thinkingText"))
            compare(findChild(message, "thinkingSummary").text, message.thinkingStats)
            // Opened by hand, it stays open.
            mouseClick(findChild(message, "thinkingHeader"))
            tryVerify(() => findChild(message, "thinkingText") !== null, 60000)
            compare(findChild(message, "thinkingText").text, "Two plus two is four.")
            // The answer's own text is still what Copy copies.
            copySpy.target = message
            copySpy.clear()
            mouseClick(findChild(message, "copyButton"))
            compare(copySpy.signalArguments[0][0], "4.")
        }

        function test_noReasoningNoSection() {
            const message = createTemporaryObject(delegateComponent, top)
            verify(!findChild(message, "thinkingSection").visible)
            const user = createTemporaryObject(delegateComponent, top, { role: "user", reasoning: "x" })
            verify(!findChild(user, "thinkingSection").visible)
        }

        function test_streamingHidesActions() {
            const message = createTemporaryObject(delegateComponent, top, { streaming: true })
            verify(!findChild(message, "copyButton").visible)
            message.streaming = false
            verify(findChild(message, "copyButton").visible)
        }
    }
}
