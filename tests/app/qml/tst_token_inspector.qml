// The token inspector: a reply shown as token chips; clicking one opens the inspector with
// each sampling stage's candidates, the chosen one marked; Close and "Show text" go back.
import QtQuick
import QtTest
import Hearth

Item {
    id: testRoot
    width: 700
    height: 700

    // What MessageListModel.tokenTrace gives for one token.
    function fakeTrace(i) {
        return {
            token: 100 + i, text: " the", display: "␣the",
            stages: [
                { name: "logits", remaining: 49152, candidates: [
                    { token: 100 + i, text: " the", display: "␣the", probability: 0.5, chosen: true },
                    { token: 7, text: " a", display: "␣a", probability: 0.3, chosen: false },
                    { token: 9, text: "\n", display: "↵", probability: 0.1, chosen: false }] },
                { name: "top-k", remaining: 2, candidates: [
                    { token: 100 + i, text: " the", display: "␣the", probability: 0.625, chosen: true },
                    { token: 7, text: " a", display: "␣a", probability: 0.375, chosen: false }] }]
        }
    }

    Component {
        id: delegateComponent
        MessageDelegate {
            id: message
            width: 640
            role: "assistant"
            text: "Hello world"
            streaming: false
            stats: ""
            messageIndex: 1
            isLast: true
            blocks: [{ code: false, text: "Hello world", language: "" }]
            tokens: ["Hello", "␣world"]
            reasoning: ""
            thinking: false
            thinkingStats: ""
            answeredBy: ""
            error: ""
            onTokenInspected: (i) => { message.inspectedTrace = testRoot.fakeTrace(i) }
        }
    }
    Component {
        id: inspectorComponent
        TokenInspector { width: 400 }
    }

    // The children of `item` with this objectName (children is a list property, not an array).
    function childrenNamed(item, name) {
        const found = []
        for (let i = 0; i < item.children.length; ++i) {
            if (item.children[i].objectName === name)
                found.push(item.children[i])
        }
        return found
    }

    TestCase {
        name: "TokenInspector"
        when: windowShown

        function test_showsStagesAndChosen() {
            const inspector = createTemporaryObject(inspectorComponent, testRoot, { trace: testRoot.fakeTrace(0) })
            compare(findChild(inspector, "tokenHeading").text, "Token 100 · “␣the”")
            const stages = findChild(inspector, "stages")
            compare(stages.count, 2)
            // Every stage marks the chosen token.
            let chosen = 0
            for (let s = 0; s < stages.count; ++s) {
                chosen += testRoot.childrenNamed(stages.itemAt(s), "chosenCandidate").length
            }
            compare(chosen, 2)
            verify(inspector.height > 100)
        }

        function test_emptyTrace() {
            const inspector = createTemporaryObject(inspectorComponent, testRoot)
            compare(findChild(inspector, "tokenHeading").text, "No sampling trace for this token")
            compare(findChild(inspector, "stages").count, 0)
        }

        function test_chipsOpenInspector() {
            const message = createTemporaryObject(delegateComponent, testRoot)
            const inspect = findChild(message, "inspectButton")
            verify(inspect.visible)
            verify(!findChild(message, "tokenChips").visible)
            mouseClick(inspect)
            verify(message.inspecting)
            const chips = findChild(message, "tokenChips")
            verify(chips.visible)
            // The Markdown text gives way to the chips.
            compare(findChild(message, "markdownText"), null)
            compare(findChild(message, "tokenInspector"), null)
            const chip = testRoot.childrenNamed(chips, "tokenChip")[1]
            mouseClick(chip)
            compare(message.inspectedToken, 1)
            const inspector = findChild(message, "tokenInspector")
            verify(inspector && inspector.visible)
            compare(inspector.trace.token, 101)
            mouseClick(findChild(inspector, "closeInspector"))
            compare(message.inspectedToken, -1)
            compare(findChild(message, "tokenInspector"), null)
            mouseClick(inspect)
            verify(!message.inspecting)
            verify(findChild(message, "markdownText"))
        }

        function test_noTokensNoButton() {
            const message = createTemporaryObject(delegateComponent, testRoot, { tokens: [] })
            verify(!findChild(message, "inspectButton").visible)
        }
    }
}
