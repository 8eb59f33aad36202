using Grpc.Core;
using Inference;
using MsSwift.Contracts;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// <c>inference.GRPCInferenceService</c> of the Open Inference Protocol (KServe v2, the API
/// Triton serves), over the same serving path as <c>ModelService.Predict</c>. Errors are the
/// google.rpc.Status the protocol names, with <c>BadRequest</c> field violations for bad tensors.
/// </summary>
internal sealed class OipGrpcService(OipInference inference, OipModels models) : GRPCInferenceService.GRPCInferenceServiceBase
{
    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = models.ServerReady });

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelReadyResponse { Ready = request.Name.Length > 0 && models.ModelReady(request.Name, request.Version, Pins(context)) });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) =>
        Task.FromResult(OipModels.ServerMetadata());

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        if (request.Name.Length == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "name: must name a model"));
        }

        try
        {
            return Task.FromResult(models.Metadata(request.Name, request.Version));
        }
        catch (PredictException error)
        {
            throw error.Status.ToRpcException();
        }
    }

    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        try
        {
            return await inference.InferAsync(request, PredictExecutor.Grpc, Pins(context), context.CancellationToken);
        }
        catch (PredictException error)
        {
            throw error.Status.ToRpcException();
        }
    }

    private static VersionPins Pins(ServerCallContext context) => VersionPins.Parse(context.RequestHeaders.GetValue(MsSwiftHeaders.VersionPins));
}
