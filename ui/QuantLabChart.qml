// The Quantization lab's chart: each file's quality cost (perplexity change, %, or mean KL
// divergence) against the memory it needs (weights + KV at the lab's context), drawn on a
// Canvas, with the seed's rule of thumb (INT8 ~1%, INT4 3-5%, INT2 10%+) as bands behind the
// points when the axis is the perplexity change. `rows` is QuantLabController.results.
import QtQuick
import QtQuick.Controls

Item {
    id: root
    property var rows: []
    // "perplexity": perplexity change in %; "kld": mean KL divergence.
    property string quality: "perplexity"
    readonly property var bands: [
        { label: "INT8 ~1%", low: 0, high: 1, colour: Theme.success },
        { label: "INT4 3-5%", low: 3, high: 5, colour: Theme.warning },
        { label: "INT2 10%+", low: 10, high: Infinity, colour: Theme.error }
    ]

    function classColour(ruleClass) {
        return ruleClass === "INT8" ? Theme.success
             : ruleClass === "INT5-6" ? Qt.tint(Theme.success, Qt.alpha(Theme.warning, 0.5))
             : ruleClass === "INT4" ? Theme.warning
             : Theme.error
    }
    function value(row) { return quality === "kld" ? row.meanKld : row.perplexityChange }

    onRowsChanged: canvas.requestPaint()
    onQualityChanged: canvas.requestPaint()
    Connections {
        target: Theme
        function onSchemeChanged() { canvas.requestPaint() }
    }

    Canvas {
        id: canvas
        objectName: "labChartCanvas"
        anchors.fill: parent
        onWidthChanged: requestPaint()
        onHeightChanged: requestPaint()

        onPaint: {
            const ctx = getContext("2d")
            ctx.reset()
            const left = 64, right = 16, top = 26, bottom = 38
            const w = width - left - right, h = height - top - bottom
            if (w <= 0 || h <= 0 || root.rows.length === 0)
                return
            const mib = 1024 * 1024
            let xMin = Infinity, xMax = 0, yMin = 0, yMax = 0
            for (const r of root.rows) {
                xMin = Math.min(xMin, r.memoryBytes / mib)
                xMax = Math.max(xMax, r.memoryBytes / mib)
                yMin = Math.min(yMin, root.value(r))
                yMax = Math.max(yMax, root.value(r))
            }
            const xPad = Math.max((xMax - xMin) * 0.08, 1)
            xMin = Math.max(0, xMin - xPad); xMax += xPad
            if (root.quality === "perplexity")
                yMax = Math.max(yMax, 11) // the INT2 band's start in sight
            yMax = yMax > 0 ? yMax * 1.1 : 1
            yMin = yMin < 0 ? yMin * 1.1 : 0
            const px = x => left + (x - xMin) / (xMax - xMin) * w
            const py = y => top + h - (y - yMin) / (yMax - yMin) * h

            // The rule of thumb's bands, and their legend above the plot.
            ctx.font = "11px sans-serif"
            let legendX = left
            if (root.quality === "perplexity") {
                for (const b of root.bands) {
                    const y0 = py(Math.max(b.low, yMin)), y1 = py(Math.min(b.high, yMax))
                    ctx.fillStyle = Qt.alpha(b.colour, Theme.dark ? 0.22 : 0.16)
                    ctx.fillRect(left, y1, w, y0 - y1)
                    ctx.fillRect(legendX, 8, 12, 10)
                    ctx.fillStyle = Theme.mutedText
                    ctx.fillText(b.label, legendX + 16, 17)
                    legendX += ctx.measureText(b.label).width + 34
                }
                ctx.fillText(qsTr("rule of thumb"), legendX, 17)
            }
            // Axes, ticks and labels.
            ctx.strokeStyle = Theme.border
            ctx.lineWidth = 1
            ctx.strokeRect(left, top, w, h)
            ctx.fillStyle = Theme.mutedText
            for (let i = 0; i <= 4; ++i) {
                const xv = xMin + (xMax - xMin) * i / 4, yv = yMin + (yMax - yMin) * i / 4
                ctx.fillText(xv.toFixed(xMax - xMin < 20 ? 1 : 0), px(xv) - 12, top + h + 14)
                ctx.fillText(root.quality === "kld" ? yv.toPrecision(2) : yv.toFixed(1) + "%",
                             4, py(yv) + 4)
            }
            ctx.fillText(qsTr("memory, MiB (weights + KV)"), left + w / 2 - 70, top + h + 30)
            // The points, labelled.
            for (const r of root.rows) {
                const x = px(r.memoryBytes / mib), y = py(root.value(r))
                ctx.beginPath()
                ctx.arc(x, y, 5, 0, 2 * Math.PI)
                if (r.ruleClass.length > 0) {
                    ctx.fillStyle = root.classColour(r.ruleClass)
                    ctx.fill()
                } else { // the reference: a ring
                    ctx.strokeStyle = Theme.text
                    ctx.lineWidth = 2
                    ctx.stroke()
                }
                ctx.fillStyle = Theme.text
                ctx.fillText(r.label, x + 8, y - 6)
            }
        }
    }
}
