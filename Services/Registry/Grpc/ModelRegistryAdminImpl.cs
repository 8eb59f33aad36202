using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Registry.Models;

namespace MsSwift.Registry.Grpc;

internal sealed class ModelRegistryAdminImpl(RegistryService registry) : ModelRegistryAdmin.ModelRegistryAdminBase
{
    public override Task<RegisteredModel> RegisterVersion(RegisterVersionRequest request, ServerCallContext context) =>
        registry.RegisterAsync(request, context.CancellationToken);

    public override Task<RegisteredModel> Promote(ChangeVersionRequest request, ServerCallContext context) =>
        registry.PromoteAsync(request.Model, request.Version, request.ExpectedRevision, context.CancellationToken);

    public override Task<RegisteredModel> RollBack(RollBackRequest request, ServerCallContext context) =>
        registry.RollBackAsync(request.Model, request.ExpectedRevision, context.CancellationToken);

    public override Task<RegisteredModel> SetCanary(SetCanaryRequest request, ServerCallContext context) =>
        registry.SetCanaryAsync(request.Model, request.Version, request.Percent, request.ExpectedRevision, context.CancellationToken);

    public override Task<RegisteredModel> Archive(ChangeVersionRequest request, ServerCallContext context) =>
        registry.ArchiveAsync(request.Model, request.Version, request.ExpectedRevision, context.CancellationToken);

    public override Task<RegisteredModel> DeleteVersion(ChangeVersionRequest request, ServerCallContext context) =>
        registry.DeleteAsync(request.Model, request.Version, request.ExpectedRevision, context.CancellationToken);

    public override Task<RegisteredModel> QuantizeVersion(QuantizeVersionRequest request, ServerCallContext context) =>
        registry.QuantizeAsync(request, context.CancellationToken);
}
