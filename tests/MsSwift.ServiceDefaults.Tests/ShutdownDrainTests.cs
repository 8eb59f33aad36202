using System.Net;

namespace MsSwift.ServiceDefaults.Tests;

/// <summary>A stopping service reports itself unready at once and goes on serving for the drain period.</summary>
public sealed class ShutdownDrainTests
{
    private static readonly TimeSpan Drain = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_stopping_service_turns_unready_but_stays_alive_and_serving_while_it_drains()
    {
        var (app, httpPort, _) = ServiceHost.Build(new Dictionary<string, string?> { ["Shutdown:DrainSeconds"] = Drain.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        await using var _ = app;
        app.MapGet("/work", () => "done");
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        var readyBefore = await http.GetAsync("/healthz");

        var stopping = app.StopAsync();
        var readyDuring = await http.GetAsync("/healthz");
        var aliveDuring = await http.GetAsync("/alive");
        var servedDuring = await http.GetStringAsync("/work");
        var stillDraining = !stopping.IsCompleted;
        await stopping;

        Assert.Equal(HttpStatusCode.OK, readyBefore.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readyDuring.StatusCode);
        Assert.Equal(HttpStatusCode.OK, aliveDuring.StatusCode);
        Assert.Equal("done", servedDuring);
        Assert.True(stillDraining, $"the service stopped before its {Drain.TotalSeconds} s drain ended");
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync("/work"));
    }
}
