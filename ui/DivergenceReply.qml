// A Compare column's reply token by token, for the two-quantization view: column 1's tokens
// on a background that follows the KL divergence between its model's distribution and the
// other column's at that step (with the legend of the scale), another column's own tokens;
// in both the first token where the columns' sampled choices differ is marked. Hovering a
// token of column 1 shows its KL, both models' probabilities of it and both top-1 tokens.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root
    required property var tokens        // the column model's divergenceTokens
    required property int firstDivergence
    required property bool scored       // column 1: tokens carry kl, pFirst, pOther, ...
    required property int partner       // column 1: the column it is compared with (1-based)
    required property string summary
    spacing: Theme.spacing / 2

    // The legend's scale, in nats: a step's KL falls in the first bucket whose bound exceeds it.
    readonly property var bounds: [0.01, 0.1, 1]
    readonly property var bucketColors: Theme.dark
        ? ["transparent", "#544a26", "#9a5a16", "#b03a3a"]
        : ["transparent", "#fde9b8", "#fbbf7a", "#f28b82"]
    readonly property var swatchColors: Theme.dark
        ? ["#33353b", "#544a26", "#9a5a16", "#b03a3a"]
        : ["#f0efec", "#fde9b8", "#fbbf7a", "#f28b82"]
    readonly property color markColor: Theme.dark ? "#6aa5ff" : "#2f6fd6"
    property int hovered: -1 // the token under the pointer, -1 for none

    function bucket(kl) {
        for (let i = 0; i < bounds.length; ++i) {
            if (kl < bounds[i])
                return i
        }
        return bounds.length
    }
    function escaped(text) {
        return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    }
    function html() {
        let out = "<p style=\"white-space:pre-wrap\">"
        for (let i = 0; i < root.tokens.length; ++i) {
            const t = root.tokens[i]
            const mark = i === root.firstDivergence
            let style = "color:" + Theme.text + ";text-decoration:none;"
            if (root.scored)
                style += "background-color:" + root.bucketColors[root.bucket(t.kl)] + ";"
            if (mark)
                style += "text-decoration:underline;font-weight:bold;color:" + root.markColor + ";"
            out += "<a href=\"" + i + "\" style=\"" + style + "\">" + (mark ? "▸" : "")
                    + root.escaped(t.text) + "</a>"
        }
        return out + "</p>"
    }
    function percent(p) {
        return (p * 100).toFixed(p < 0.001 ? 3 : 1) + "%"
    }
    function quoted(text) {
        return "“" + text.replace(/\n/g, "⏎") + "”"
    }
    function describe(i) {
        const t = root.tokens[i]
        if (!root.scored)
            return qsTr("token %1 %2").arg(i + 1).arg(root.quoted(t.text))
        return qsTr("token %1 %2: KL %3 nats · column 1 p %4 (top-1 %5) · column %6 p %7 (top-1 %8)")
            .arg(i + 1).arg(root.quoted(t.text)).arg(t.kl.toPrecision(3))
            .arg(root.percent(t.pFirst)).arg(root.quoted(t.topFirst))
            .arg(root.partner).arg(root.percent(t.pOther)).arg(root.quoted(t.topOther))
    }

    ScrollView {
        id: scroll
        Layout.fillWidth: true
        Layout.fillHeight: true
        // Sizes of its own, not the text's: the layout gives it the room left.
        implicitWidth: 100
        implicitHeight: 120
        // A TextArea alone in a ScrollView wraps at the view's width (TextArea.flickable).
        TextArea {
            objectName: "divergenceText"
            readOnly: true
            wrapMode: TextEdit.Wrap
            textFormat: TextEdit.RichText
            color: Theme.text
            background: null
            text: root.html()
            onLinkHovered: (link) => root.hovered = link === "" ? -1 : Number(link)
            onLinkActivated: (link) => root.hovered = Number(link)
        }
    }
    // The token inspector: the hovered token's figures, else how to get them.
    Label {
        objectName: "divergenceInspector"
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        font.pixelSize: 11
        color: Theme.text
        text: root.hovered >= 0 && root.hovered < root.tokens.length
              ? root.describe(root.hovered)
              : root.scored ? qsTr("Point at a token for its KL and both models' choices.")
                            : root.firstDivergence >= 0
                              ? qsTr("▸ marks the first token where this column chose differently from column 1.")
                              : ""
        visible: text !== ""
    }
    // The scale, column 1 only.
    Flow {
        objectName: "divergenceLegend"
        Layout.fillWidth: true
        visible: root.scored
        spacing: Theme.spacing
        Label {
            text: qsTr("KL vs column %1:").arg(root.partner)
            font.pixelSize: 11
            color: Theme.mutedText
        }
        Repeater {
            model: [qsTr("< 0.01"), qsTr("0.01–0.1"), qsTr("0.1–1"), qsTr("> 1 nats")]
            delegate: Row {
                required property string modelData
                required property int index
                spacing: 4
                Rectangle {
                    width: 14
                    height: 12
                    radius: 2
                    anchors.verticalCenter: parent.verticalCenter
                    color: root.swatchColors[index]
                    border.color: Theme.border
                }
                Label {
                    text: modelData
                    font.pixelSize: 11
                    color: Theme.text
                }
            }
        }
        Label {
            text: qsTr("▸ first divergence")
            font.pixelSize: 11
            font.bold: true
            color: root.markColor
        }
    }
    Label {
        objectName: "divergenceSummary"
        Layout.fillWidth: true
        wrapMode: Text.Wrap
        font.pixelSize: 11
        color: Theme.mutedText
        text: root.summary
        visible: text !== ""
    }
}
