// One sampling parameter: a label, a slider and a numeric field kept in step. Emits
// edited() with the new value; the owner writes it to the model (no two-way binding).
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
    id: root

    required property string label
    required property real value
    property real from: 0
    property real to: 1
    property real stepSize: 0.01
    property int decimals: 2
    property string hint: ""
    // The remote server family that ignores this knob ("vLLM"), "" when it is honoured: the
    // field is greyed and its tooltip says so (it still applies to local models).
    property string ignoredBy: ""
    signal edited(real value)

    spacing: 2
    opacity: ignoredBy.length > 0 ? 0.45 : 1

    RowLayout {
        Layout.fillWidth: true
        Label {
            text: root.label
            color: Theme.text
            Layout.fillWidth: true
            ToolTip.visible: (root.hint.length > 0 || root.ignoredBy.length > 0) && labelHover.hovered
            ToolTip.text: root.ignoredBy.length > 0 ? qsTr("%1 ignores this setting").arg(root.ignoredBy) : root.hint
            HoverHandler { id: labelHover }
        }
        TextField {
            id: field
            objectName: "field"
            Layout.preferredWidth: 72
            horizontalAlignment: TextInput.AlignRight
            text: root.value.toFixed(root.decimals)
            validator: DoubleValidator { bottom: root.from; top: root.to; decimals: root.decimals }
            onEditingFinished: root.edited(Number(text))
            Accessible.name: root.label
        }
    }
    Slider {
        id: slider
        objectName: "slider"
        Layout.fillWidth: true
        from: root.from
        to: root.to
        stepSize: root.stepSize
        value: root.value
        onMoved: root.edited(value)
        Accessible.name: root.label
    }
}
