// DivergenceReply, Compare's two-quantization view of a reply: column 1's tokens on the
// background of their KL bucket with the legend and the pair's summary shown, the first
// divergence marked, the hovered token's figures in the inspector line; another column's
// tokens with the mark and no legend.
import QtQuick
import QtTest
import Hearth

Item {
    id: testRoot
    width: 500
    height: 400

    readonly property var scoredTokens: [
        { text: "Mars", kl: 0.001, pFirst: 0.9, pOther: 0.89, topFirst: "Mars", topOther: "Mars" },
        { text: " is", kl: 0.05, pFirst: 0.8, pOther: 0.7, topFirst: " is", topOther: " is" },
        { text: " red", kl: 0.5, pFirst: 0.6, pOther: 0.2, topFirst: " red", topOther: " a" },
        { text: " <dust>", kl: 2.5, pFirst: 0.4, pOther: 0.01, topFirst: " <dust>", topOther: "\n" }
    ]

    Component {
        id: replyComponent
        DivergenceReply {
            width: 500
            height: 400
            tokens: testRoot.scoredTokens
            firstDivergence: 2
            scored: true
            partner: 2
            summary: "vs column 2: mean KL 0.76 · p99 KL 2.4 · top-1 agreement 50.0% · first divergence at token 3"
        }
    }

    TestCase {
        name: "DivergenceReply"
        when: windowShown

        function test_columnOneShowsLegendSummaryAndColours() {
            const reply = createTemporaryObject(replyComponent, testRoot)
            const legend = findChild(reply, "divergenceLegend")
            verify(legend.visible)
            verify(legend.width > 0 && legend.height > 0)
            const summary = findChild(reply, "divergenceSummary")
            verify(summary.visible)
            verify(summary.text.startsWith("vs column 2: mean KL"))
            // One bucket per token, from the faintest to the strongest; the mark on token 3.
            compare(reply.bucket(0.001), 0)
            compare(reply.bucket(0.05), 1)
            compare(reply.bucket(0.5), 2)
            compare(reply.bucket(2.5), 3)
            const html = reply.html()
            for (let i = 1; i < 4; ++i)
                verify(html.indexOf("background-color:" + reply.bucketColors[i]) >= 0, i)
            verify(html.indexOf("▸ red") >= 0)
            verify(html.indexOf("&lt;dust&gt;") >= 0) // token text is escaped
            // The inspector: a hint, then the hovered token's figures.
            const inspector = findChild(reply, "divergenceInspector")
            verify(inspector.text.startsWith("Point at a token"))
            reply.hovered = 2
            compare(inspector.text,
                    "token 3 “ red”: KL 0.500 nats · column 1 p 60.0% (top-1 “ red”) · column 2 p 20.0% (top-1 “ a”)")
            reply.hovered = 3
            verify(inspector.text.indexOf("(top-1 “⏎”)") >= 0)
        }

        function test_otherColumnHasTheMarkAndNoLegend() {
            const reply = createTemporaryObject(replyComponent, testRoot, {
                tokens: [{ text: "Mars" }, { text: " is" }, { text: " a" }],
                scored: false, summary: "vs column 1: …"
            })
            verify(!findChild(reply, "divergenceLegend").visible)
            verify(reply.html().indexOf("▸ a") >= 0)
            verify(reply.html().indexOf("background-color") < 0)
            verify(findChild(reply, "divergenceInspector").text.startsWith("▸ marks the first token"))
            verify(findChild(reply, "divergenceSummary").visible)
        }
    }
}
