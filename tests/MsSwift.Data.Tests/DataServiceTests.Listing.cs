using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace MsSwift.Data.Tests;

// GET /datasets: every dataset's latest report, by name, from the index written at ingest.
public sealed partial class DataServiceTests
{
    [Fact]
    public async Task Listing_shows_each_datasets_latest_report_sorted_by_name_and_an_empty_list_before_any_ingest()
    {
        using var http = new HttpClient { BaseAddress = _server.HttpAddress };

        var before = await http.GetAsync("/datasets");
        var beforeBody = await before.Content.ReadFromJsonAsync<JsonElement>();
        // Ingested out of name order, and zebra twice: the list shows its second version.
        var zebraFirst = await IngestAsync(http, "zebra", "the first zebra\n");
        await IngestAsync(http, "apple", "an apple a day\n");
        var zebraSecond = await IngestAsync(http, "zebra", "the second zebra\n\nand another\n");
        var listed = await http.GetAsync("/datasets");
        var datasets = (await listed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("datasets").EnumerateArray().ToList();
        var zebra = await http.GetFromJsonAsync<JsonElement>("/datasets/zebra");
        var apple = await http.GetFromJsonAsync<JsonElement>("/datasets/apple");

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(0, beforeBody.GetProperty("datasets").GetArrayLength());
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Equal("application/json", listed.Content.Headers.ContentType?.MediaType);
        Assert.Equal(["apple", "zebra"], datasets.Select(dataset => dataset.GetProperty("name").GetString()));
        Assert.NotEqual(zebraFirst, zebraSecond);
        Assert.Equal(zebraSecond, datasets[1].GetProperty("version").GetString());
        // Each entry is the report GET /datasets/{name} returns, in the same protobuf JSON shape.
        Assert.True(JsonElement.DeepEquals(apple, datasets[0]), $"{apple} != {datasets[0]}");
        Assert.True(JsonElement.DeepEquals(zebra, datasets[1]), $"{zebra} != {datasets[1]}");
        Assert.Equal("2", datasets[1].GetProperty("documents").GetString());
    }

    /// <summary>Uploads <paramref name="text"/> as dataset <paramref name="name"/>; its version.</summary>
    private static async Task<string> IngestAsync(HttpClient http, string name, string text)
    {
        using var created = await http.PostAsync($"/datasets/{name}", new StringContent(text, Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetString()!;
    }
}
