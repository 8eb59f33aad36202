using System.Diagnostics.Metrics;
using MsSwift.Modeling.Generation;

namespace MsSwift.Inference.Serving;

/// <summary>Requests by outcome and transport: <c>msswift.inference.requests{outcome, transport}</c>.</summary>
public sealed class RequestMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _requests = meters.Create(BatcherMetrics.MeterName).CreateCounter<long>(
        "msswift.inference.requests", "{request}", "Predict requests by outcome (ok, invalid_argument, not_found, resource_exhausted, cancelled, error) and transport (grpc, http, kafka)");

    public void Record(string transport, string outcome) =>
        _requests.Add(1, new KeyValuePair<string, object?>("transport", transport), new KeyValuePair<string, object?>("outcome", outcome));
}
