using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MsSwift.Gateway.Telemetry;

/// <summary>The gateway's own meter, beside YARP's and ASP.NET Core's: refusals by reason and canary routing.</summary>
internal sealed class GatewayMetrics
{
    public const string MeterName = "MsSwift.Gateway";

    private readonly Counter<long> _rejections;
    private readonly Counter<long> _pinned;

    public GatewayMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _rejections = meter.CreateCounter<long>("msswift.gateway.rejections", "{request}", "Requests the gateway refused itself, by reason");
        _pinned = meter.CreateCounter<long>("msswift.gateway.canary.routed", "{request}", "Requests sent to a canary version");
    }

    public void Rejected(string reason) => _rejections.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RoutedToCanary(string model, string version) =>
        _pinned.Add(1, new TagList { { "model", model }, { "version", version } });
}
