// A small line chart of recent values (decode speed during the last generation).
import QtQuick

Canvas {
    id: root

    property var values: []
    property color lineColor: Theme.accent

    onValuesChanged: requestPaint()
    onLineColorChanged: requestPaint()
    onPaint: {
        const ctx = getContext("2d")
        ctx.reset()
        const n = values.length
        if (n < 2)
            return
        const top = Math.max(...values) * 1.1 || 1
        ctx.strokeStyle = lineColor
        ctx.lineWidth = 1.5
        ctx.beginPath()
        for (let i = 0; i < n; ++i)
            ctx.lineTo(i * (width - 1) / (n - 1), height - 1 - values[i] / top * (height - 2))
        ctx.stroke()
    }
}
