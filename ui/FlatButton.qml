// A quiet text button for secondary actions: no background until hovered or pressed.
import QtQuick
import QtQuick.Controls

ToolButton {
    id: control
    font.pixelSize: 12
    contentItem: Label {
        text: control.text
        font: control.font
        color: control.enabled ? (control.hovered ? Theme.text : Theme.mutedText) : Theme.border
        horizontalAlignment: Text.AlignHCenter
        verticalAlignment: Text.AlignVCenter
    }
    background: Rectangle {
        implicitHeight: 28
        radius: 4
        color: control.down ? Theme.border : (control.hovered || control.visualFocus ? Theme.raised : "transparent")
    }
}
