using System.Diagnostics;
using OpenTelemetry.Trace;

namespace MsSwift.ServiceDefaults.Telemetry;

/// <summary>
/// Keeps the traces of work someone asked for and drops a service's own background work. A span
/// with no parent is recorded only when it starts handling something that arrived: a request
/// (<see cref="ActivityKind.Server"/>) or a message (<see cref="ActivityKind.Consumer"/>). A root
/// client, producer or internal span is a loop of the service's own (health probes, the gateway's
/// canary refresh, training's recovery polling, an outbox sweep, Redis and Kafka calls made by a
/// timer) and is dropped; used inside <see cref="ParentBasedSampler"/>, so is everything under it,
/// in this process and, through the unsampled <c>traceparent</c> it sends, in the services it calls.
/// </summary>
/// <remarks>
/// An idle cluster made about 190 such traces a minute, burying the user's requests in the
/// dashboard. <c>Telemetry:TraceBackgroundWork=true</c> turns this off (see
/// <see cref="Microsoft.Extensions.Hosting.Extensions.TraceBackgroundWorkKey"/>).
/// </remarks>
public sealed class BackgroundWorkSampler : Sampler
{
    private static readonly SamplingResult Keep = new(SamplingDecision.RecordAndSample);
    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

    /// <summary>The sampler a service uses: this one for roots, the parent's decision for the rest.</summary>
    public static Sampler ForServices() => new ParentBasedSampler(new BackgroundWorkSampler());

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) =>
        samplingParameters.Kind is ActivityKind.Server or ActivityKind.Consumer ? Keep : Drop;
}
