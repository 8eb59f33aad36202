using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MsSwift.Inference.Serving;
using MsSwift.Modeling.Generation;
using MsSwift.Modeling.Generation.Scheduling;
using MsSwift.Training.Jobs;
using MsSwift.Training.ParameterServer;

namespace MsSwift.Deploy.Tests;

/// <summary>
/// The Prometheus series the services really export: a host with the services' defaults
/// (MsSwift.ServiceDefaults: OpenTelemetry with the Prometheus exporter) and the services' own
/// instrument classes, every instrument recorded once and one HTTP request served, then
/// <c>/metrics</c> scraped. Dashboards and autoscaling may name only what this returns.
/// </summary>
public static partial class ExportedMetrics
{
    private static readonly Lazy<Task<IReadOnlySet<string>>> Series = new(ScrapeAsync);

    public static Task<IReadOnlySet<string>> SeriesAsync() => Series.Value;

    /// <summary>The metric names a PromQL expression reads: every name written with a label matcher.</summary>
    public static IReadOnlyList<string> NamesIn(string promql) =>
        [.. MetricWithMatcher().Matches(promql).Select(match => match.Groups[1].Value).Distinct()];

    private static async Task<IReadOnlySet<string>> ScrapeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddServiceDefaults();
        builder.Services.AddSingleton<RequestMetrics>();
        builder.Services.AddSingleton<TrainingMetrics>();
        builder.Services.AddSingleton<WireMetrics>();
        await using var app = builder.Build();
        app.MapDefaultEndpoints();
        app.MapGet("/ping", () => "pong");
        await app.StartAsync();

        // The services' instrument classes, built as the services build them.
        var meters = app.Services.GetRequiredService<IMeterFactory>();
        var batcher = new BatcherMetrics(meters.Create(BatcherMetrics.MeterName));
        using var engine = batcher.Observe(() => new SchedulerState(1, 1, 0.5, 2), new TagList { { "model", "demo" }, { "version", "v1" } });
        _ = app.Services.GetRequiredService<RequestMetrics>();
        _ = app.Services.GetRequiredService<TrainingMetrics>();
        _ = app.Services.GetRequiredService<WireMetrics>();
        RecordEveryProductInstrumentOnce();

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        (await http.GetAsync(new Uri("/ping", UriKind.Relative))).EnsureSuccessStatusCode();
        var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        await app.StopAsync();

        return text.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line[..line.IndexOfAny(['{', ' '])])
            .ToHashSet(StringComparer.Ordinal);
    }

    // Instruments export nothing until they have a measurement.
    private static void RecordEveryProductInstrumentOnce()
    {
        using var listener = new MeterListener();
        var instruments = new List<Instrument>();
        listener.InstrumentPublished = (instrument, _) =>
        {
            if (instrument.Meter.Name.StartsWith(Extensions.TelemetryPrefix, StringComparison.Ordinal))
            {
                instruments.Add(instrument);
            }
        };
        listener.Start();
        foreach (var instrument in instruments)
        {
            switch (instrument)
            {
                case Counter<long> counter: counter.Add(1); break;
                case Counter<double> seconds: seconds.Add(0.01); break;
                case UpDownCounter<long> upDown: upDown.Add(1); break;
                case Histogram<double> histogram: histogram.Record(0.01); break;
                case Gauge<double> gauge: gauge.Record(1); break;
                case { IsObservable: true }: break; // read from its callback at the scrape
                default: throw new InvalidOperationException($"{instrument.Name} is a {instrument.GetType().Name}: record it here");
            }
        }
    }

    [GeneratedRegex(@"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")]
    private static partial Regex MetricWithMatcher();
}
