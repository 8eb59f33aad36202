using Microsoft.Extensions.DependencyInjection;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Xunit.Abstractions;

namespace MsSwift.AppHost.Tests;

public sealed class WholeAppTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Diagnose()
    {
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.MsSwift_AppHost>(["Infrastructure:Mode=local", "Gateway:HttpPort=18080", "Gateway:GrpcPort=18081"]);
        await using var app = await builder.BuildAsync();
        await app.StartAsync();
        var notifications = app.Services.GetRequiredService<ResourceNotificationService>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await notifications.WaitForResourceHealthyAsync("gateway", cts.Token);
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var r in builder.Resources)
        {
            if (notifications.TryGetCurrentState(r.Name, out var e))
            {
                output.WriteLine($"{r.Name}: {e.Snapshot.State?.Text} health={e.Snapshot.HealthStatus} reports={string.Join(";", e.Snapshot.HealthReports.Select(h => $"{h.Name}={h.Status}:{h.Description}:{h.ExceptionText}"))}");
            }
        }
    }
}
