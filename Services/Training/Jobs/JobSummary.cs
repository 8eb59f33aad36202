using MsSwift.Contracts.V1;

namespace MsSwift.Training.Jobs;

/// <summary>
/// A job as <c>GET /training/jobs</c> shows it: its request and latest status (in protobuf JSON
/// through <see cref="Contracts.ProtobufJson"/>) and when it was created, in UTC. Created is null
/// only for a job saved before jobs were indexed by creation time.
/// </summary>
public sealed record JobSummary(string JobId, DateTime? Created, TrainRequest Request, TrainStatus Status);
