using Google.Rpc;
using Inference;
using Microsoft.Extensions.Options;
using MsSwift.Contracts.V1;
using MsSwift.Inference.Serving;

namespace MsSwift.Inference.Oip;

/// <summary>
/// One Open Inference Protocol inference, REST or gRPC: the tensors become predict requests
/// (one per prompt) served by <see cref="PredictExecutor"/>, which validates each against the
/// version that serves it, exactly as <c>Predict</c> does. The prompts of one request run side
/// by side in the continuous batcher; the first that fails cancels the rest and fails the request.
/// </summary>
internal sealed class OipInference(PredictExecutor executor, IOptions<InferenceOptions> options)
{
    /// <summary>Throws <see cref="PredictException"/> with this protocol's field names.</summary>
    public async Task<ModelInferResponse> InferAsync(ModelInferRequest request, string transport, VersionPins pins, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.ModelName))
        {
            var violations = new BadRequest();
            OipTensors.Add(violations, "model_name", "must name a model");
            throw PredictException.InvalidArgument(violations);
        }

        // A request with more prompts than the queue holds could never be admitted whole.
        var prompts = OipTensors.Read(request, options.Value.MaxQueueSize);
        var parameters = OipParameters.Read(request.Parameters);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var answers = prompts.Texts.Select((text, index) => PredictOneAsync(new PredictRequest
        {
            InputData = text,
            Model = request.ModelName,
            ModelVersion = request.ModelVersion,
            RequestId = request.Id,
            Parameters = parameters,
        }, index, prompts.Texts.Count, transport, pins, failed)).ToList();
        try
        {
            return OipTensors.Response(request, prompts, await Task.WhenAll(answers));
        }
        catch (PredictException)
        {
            // The first prompt in order that failed for its own reason, not because another one cancelled it.
            throw answers.Select(answer => answer.Exception?.InnerException).OfType<PredictException>().First();
        }
    }

    private async Task<PredictResponse> PredictOneAsync(PredictRequest request, int index, int count, string transport, VersionPins pins, CancellationTokenSource failed)
    {
        try
        {
            return await executor.PredictAsync(request, transport, failed.Token, pins);
        }
        catch (PredictException error)
        {
            await failed.CancelAsync();
            throw Renamed(error, count == 1 ? OipTensors.InputName : $"{OipTensors.InputName}[{index}]");
        }
    }

    /// <summary>The serving path's violations under this protocol's names (the prompt is <paramref name="input"/>).</summary>
    private static PredictException Renamed(PredictException error, string input)
    {
        if (error.Code != Code.InvalidArgument || error.Status.GetDetail<BadRequest>() is not { } violations)
        {
            return error;
        }

        var renamed = new BadRequest();
        foreach (var violation in violations.FieldViolations)
        {
            var field = violation.Field == "input_data" ? input : OipParameters.FromPredictFields.GetValueOrDefault(violation.Field, violation.Field);
            OipTensors.Add(renamed, field, violation.Description);
        }

        return PredictException.InvalidArgument(renamed);
    }
}
