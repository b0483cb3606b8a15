// CompareView without an engine: the columns follow the controller (add, shoot-out,
// remove through a column's "⋯" menu), five columns scroll sideways when they do not fit
// and keep their header inside the column, the system prompt field edits the controller's,
// a refused setting shows its error and keeps the old value, and sending with no engine
// says so instead of doing nothing.
import QtQuick
import QtQuick.Controls
import QtTest
import Hearth

Item {
    id: top
    width: 1400
    height: 800

    Component {
        id: viewComponent
        CompareView {
            anchors.fill: parent
            controller: CompareController {}
        }
    }

    TestCase {
        name: "CompareView"
        when: windowShown

        function columnsOf(view) {
            const list = findChild(view, "columnRepeater")
            list.forceLayout()
            const items = []
            for (let i = 0; i < list.count; ++i)
                items.push(list.itemAtIndex(i))
            return items
        }

        function test_columnsFollowTheController() {
            const view = createTemporaryObject(viewComponent, top)
            compare(columnsOf(view).length, 2)
            mouseClick(findChild(view, "addColumn"))
            compare(columnsOf(view).length, 3)
            mouseClick(findChild(view, "shootout"))
            let columns = columnsOf(view)
            compare(columns.length, 5)
            compare(columns[2].templateName, "llama3")
            compare(columns[4].templateName, "raw")
            compare(findChild(columns[1], "templatePicker").currentText, "chatml")
            compare(findChild(columns[0], "templatePicker").displayText, "auto")
            compare(findChild(view, "addColumn").enabled, false)
            // Remove the last column through its menu.
            mouseClick(findChild(columns[4], "columnMenuButton"))
            const menu = findChild(columns[4], "columnMenu")
            tryCompare(menu, "opened", true, 60000)
            const remove = menu.itemAt(1)
            compare(remove.objectName, "removeColumn")
            verify(remove.enabled)
            mouseClick(remove)
            compare(columnsOf(view).length, 4)
            compare(findChild(view, "addColumn").enabled, true)
        }

        // 1400 px fits five columns; 700 does not: the list scrolls, each column keeps its
        // minimum width, and the header's menu button stays inside its column.
        function test_fiveColumnsScrollWhenNarrow() {
            const view = createTemporaryObject(viewComponent, top)
            view.controller.templateShootout()
            let columns = columnsOf(view)
            compare(columns.length, 5)
            const list = findChild(view, "columnRepeater")
            verify(!list.scrolls)
            view.anchors.fill = undefined
            view.width = 700
            view.height = 600
            list.forceLayout()
            verify(list.scrolls)
            compare(findChild(view, "columnScrollBar").policy, ScrollBar.AlwaysOn)
            columns = columnsOf(view)
            compare(columns[0].width, view.minColumnWidth)
            verify(list.contentWidth > list.width)
            for (const column of columns.filter(c => c !== null)) {
                const button = findChild(column, "columnMenuButton")
                const right = button.mapToItem(column, button.width, 0).x
                verify(right <= column.width, "menu button at " + right + " in " + column.width)
            }
        }

        function test_refusedSettingShowsError() {
            const view = createTemporaryObject(viewComponent, top)
            const field = findChild(columnsOf(view)[0], "field_temperature")
            field.forceActiveFocus()
            field.selectAll()
            keyClick(Qt.Key_Minus)
            keyClick(Qt.Key_1)
            keyClick(Qt.Key_Return)
            const error = findChild(view, "compareError")
            verify(error.visible)
            verify(error.text.indexOf("temperature") >= 0, error.text)
            compare(field.text, "0.7")
            compare(columnsOf(view)[0].temperature, 0.7)
        }

        // Every column starts on the chat's model; a path that is not a file is refused and
        // the picker keeps showing the chat's model.
        function test_modelPicker() {
            const view = createTemporaryObject(viewComponent, top)
            const column = columnsOf(view)[1]
            const picker = findChild(column, "modelPicker")
            compare(picker.displayText, "chat's model")
            compare(view.controller.modelChoices[0], "")
            verify(!findChild(column, "columnError").visible)
            verify(!view.controller.setColumnValue(1, "modelPath", "/nowhere/model.gguf"))
            verify(findChild(view, "compareError").text.indexOf("no model file at") >= 0)
            compare(column.modelPath, "")
            compare(picker.displayText, "chat's model")
        }

        function test_systemPromptGoesToTheController() {
            const view = createTemporaryObject(viewComponent, top)
            const field = findChild(view, "systemPrompt")
            field.forceActiveFocus()
            keyClick(Qt.Key_B)
            keyClick(Qt.Key_E)
            compare(view.controller.systemPrompt, "be")
            view.controller.systemPrompt = "Be brief."
            compare(field.text, "Be brief.")
        }

        function test_sendWithoutEngineSaysSo() {
            const view = createTemporaryObject(viewComponent, top)
            const input = findChild(view, "composerInput")
            input.forceActiveFocus()
            keyClick(Qt.Key_H)
            keyClick(Qt.Key_Return)
            verify(findChild(view, "compareError").text.indexOf("no engine") >= 0)
            compare(view.controller.userMessages.length, 0)
        }
    }
}
