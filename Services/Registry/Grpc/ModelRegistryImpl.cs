using Grpc.Core;
using MsSwift.Contracts.Registry.V1;
using MsSwift.Registry.Models;

namespace MsSwift.Registry.Grpc;

internal sealed class ModelRegistryImpl(RegistryService registry) : ModelRegistry.ModelRegistryBase
{
    public override async Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context) =>
        new() { Models = { await registry.ListAsync() } };

    public override Task<RegisteredModel> GetModel(GetModelRequest request, ServerCallContext context) =>
        registry.GetAsync(request.Model);

    public override Task<ListCanariesResponse> ListCanaries(ListCanariesRequest request, ServerCallContext context) =>
        registry.ListCanariesAsync(request.PageSize, request.PageToken);
}
