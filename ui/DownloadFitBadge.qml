// The fit badge: whether a model fits this machine's memory at the chosen context
// ("fits", "tight", "wont_fit", or "unknown" before the size is known), and where: the
// GPU's name or RAM (model_fit.h picks the device).
import QtQuick
import QtQuick.Controls
import Hearth

Rectangle {
    id: root

    property string fit: "unknown"
    property bool estimate: false
    property string device: ""

    implicitWidth: label.implicitWidth + 12
    implicitHeight: label.implicitHeight + 4
    radius: height / 2
    color: fit === "fits" ? Theme.success : fit === "tight" ? Theme.warning
         : fit === "wont_fit" ? Theme.error : Theme.border

    Label {
        id: label
        anchors.centerIn: parent
        font.pixelSize: 11
        color: root.fit === "unknown" ? Theme.text : Theme.accentText
        text: (root.estimate ? "≈ " : "") + (root.fit === "fits" ? qsTr("fits")
              : root.fit === "tight" ? qsTr("tight")
              : root.fit === "wont_fit" ? qsTr("won't fit") : qsTr("size unknown"))
              + (root.fit !== "unknown" && root.device !== "" ? qsTr(" · %1").arg(root.device) : "")
    }
}
