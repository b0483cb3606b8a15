// DownloadPage against a real DownloadController: the built-in catalog, search and filters,
// a bad link's message, and the fit badges.
import QtQuick
import QtTest
import Hearth

Item {
    id: top
    width: 700
    height: 1200

    Component {
        id: pageComponent
        DownloadPage { width: 680; height: 1180; controller: DownloadController {} }
    }

    TestCase {
        name: "DownloadPage"
        when: windowShown

        function test_catalogIsListed() {
            const page = createTemporaryObject(pageComponent, top)
            const list = findChild(page, "catalogList")
            verify(list.count >= 12)
            compare(page.controller.catalogError, "")
            verify(page.controller.families.indexOf("Qwen2.5") >= 0)
            // Every file has a size estimate and a badge among the known ones.
            for (const entry of page.controller.catalog) {
                for (const file of entry.files) {
                    verify(file.size > 0, entry.id + " " + file.quantization)
                    verify(["fits", "tight", "wont_fit"].indexOf(file.fit) >= 0, file.fit)
                }
            }
        }

        function test_searchAndFilters() {
            const page = createTemporaryObject(pageComponent, top)
            const list = findChild(page, "catalogList")
            const all = list.count
            findChild(page, "searchField").text = "qwen"
            tryVerify(() => list.count > 0 && list.count < all)
            for (const entry of page.controller.catalog)
                verify(entry.name.indexOf("Qwen") >= 0, entry.name)
            findChild(page, "searchField").text = ""
            page.controller.sizeFilter = "large"
            tryVerify(() => list.count > 0 && list.count < all)
            for (const entry of page.controller.catalog)
                verify(entry.parameters > 10e9, entry.name)
            page.controller.sizeFilter = ""
            page.controller.familyFilter = "Gemma"
            for (const entry of page.controller.catalog)
                compare(entry.family, "Gemma")
        }

        function test_fitFollowsAvailableMemory() {
            const page = createTemporaryObject(pageComponent, top)
            page.controller.availableBytes = 256 * 1024 * 1024   // 256 MiB: nothing but the tiniest
            const tiny = page.controller.catalog.find(e => e.id === "smollm2-135m-instruct")
            compare(tiny.files[0].fit, "fits")
            const big = page.controller.catalog.find(e => e.id === "llama-3.3-70b-instruct")
            compare(big.files[0].fit, "wont_fit")
        }

        function test_badLinkSaysWhy() {
            const page = createTemporaryObject(pageComponent, top)
            const field = findChild(page, "linkField")
            field.text = "not a repo"
            field.accepted()
            verify(page.controller.lookupError.indexOf("owner/repo") >= 0, page.controller.lookupError)
            compare(page.controller.lookupFiles.length, 0)
        }
    }
}
