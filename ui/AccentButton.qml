// The one primary action of a place (Send, Open model…): filled with the accent colour.
import QtQuick
import QtQuick.Controls

Button {
    id: control
    contentItem: Label {
        text: control.text
        font: control.font
        color: Theme.accentText
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }
    background: Rectangle {
        implicitWidth: 72
        implicitHeight: 36
        radius: 6
        color: Theme.accent
        opacity: control.enabled ? (control.down ? 0.8 : 1) : 0.4
    }
}
