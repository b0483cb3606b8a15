// Hearth's colours, sizes and fonts: one instance for the whole window. `scheme` is
// "system" (follow the desktop's palette), "light" or "dark"; Main.qml sets it.
pragma Singleton
import QtQuick

QtObject {
    property string scheme: "system"
    readonly property SystemPalette systemPalette: SystemPalette {}
    // Qt 6.4 has no QStyleHints::colorScheme: a dark system palette has a dark window.
    readonly property bool dark: scheme === "dark"
                                 || (scheme === "system" && systemPalette.window.hslLightness < 0.5)

    readonly property color window: dark ? "#1c1d20" : "#f6f5f3"
    readonly property color sidebar: dark ? "#232428" : "#ecebe8"
    readonly property color surface: dark ? "#2a2b30" : "#ffffff"
    readonly property color raised: dark ? "#33353b" : "#f0efec"
    readonly property color border: dark ? "#3d3f46" : "#dad8d3"
    readonly property color text: dark ? "#e8e6e3" : "#1f1e1c"
    readonly property color mutedText: dark ? "#a09d98" : "#6b6864"
    readonly property color accent: dark ? "#f0a050" : "#c8661e"
    readonly property color accentText: dark ? "#1c1d20" : "#ffffff"
    readonly property color userBubble: dark ? "#3b3226" : "#fbeedf"
    readonly property color codeBackground: dark ? "#18191b" : "#f3f2ef"
    readonly property color warning: dark ? "#f2c14e" : "#8a5a00"
    readonly property color warningBackground: dark ? "#3a3220" : "#fff4d6"
    readonly property color error: dark ? "#ff8a80" : "#b3261e"
    readonly property color success: dark ? "#8fd18f" : "#2e7d32"
    readonly property color selection: dark ? "#3f4450" : "#e2dfd8"

    // The gauge's three kinds of memory.
    readonly property color weightsColor: dark ? "#6aa5ff" : "#2f6fd6"
    readonly property color kvColor: dark ? "#f0a050" : "#d9822b"
    readonly property color recurrentColor: dark ? "#c89af0" : "#8a4fc4"
    readonly property color scratchColor: dark ? "#8fd18f" : "#3f9a49"

    readonly property int spacing: 8
    readonly property int radius: 8
    readonly property int sidebarWidth: 250
    readonly property int panelWidth: 330
    readonly property string monoFamily: "monospace"
}
