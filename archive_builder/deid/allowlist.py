"""Attributes outside Table E.1-1 that the archive keeps: a short, reviewed list.

Reject by default: an attribute that is neither in the standard's table nor
here is removed, at every depth. Everything here describes how the image was
acquired, how its pixels are stored, or where it sits in space; nothing here
can hold a name, an identifier, a date or free text about the patient.
A test checks that every keyword exists and that none is in Table E.1-1.
"""

from __future__ import annotations

SAFE_KEYWORDS = frozenset(
    {
        # SOP common, general series/image: coded, not free text
        "SpecificCharacterSet", "SOPClassUID", "ImageType", "Modality",
        "SeriesNumber", "InstanceNumber", "AcquisitionNumber", "TemporalPositionIdentifier",
        "NumberOfTemporalPositions", "PatientPosition", "Laterality", "ImageLaterality",
        "BodyPartExamined", "ViewPosition", "PatientOrientation", "AnatomicalOrientationType",
        "PresentationIntentType", "QualityControlImage", "BurnedInAnnotation",
        "RecognizableVisualFeatures", "LossyImageCompression", "LossyImageCompressionRatio",
        "LossyImageCompressionMethod", "Manufacturer", "ConversionType",
        # frame of reference, image plane
        "ImagePositionPatient", "ImageOrientationPatient", "SliceThickness", "SliceLocation",
        "SpacingBetweenSlices", "PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing",
        "PixelSpacingCalibrationType", "EstimatedRadiographicMagnificationFactor",
        # image pixel
        "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated",
        "BitsStored", "HighBit", "PixelRepresentation", "PlanarConfiguration",
        "PixelAspectRatio", "SmallestImagePixelValue", "LargestImagePixelValue",
        "PixelPaddingValue", "PixelPaddingRangeLimit", "NumberOfFrames", "FrameIncrementPointer",
        "FrameTime", "FrameTimeVector", "PixelData", "FloatPixelData", "DoubleFloatPixelData",
        "ExtendedOffsetTable", "ExtendedOffsetTableLengths",
        "RedPaletteColorLookupTableDescriptor", "GreenPaletteColorLookupTableDescriptor",
        "BluePaletteColorLookupTableDescriptor", "RedPaletteColorLookupTableData",
        "GreenPaletteColorLookupTableData", "BluePaletteColorLookupTableData",
        "SegmentedRedPaletteColorLookupTableData", "SegmentedGreenPaletteColorLookupTableData",
        "SegmentedBluePaletteColorLookupTableData", "ICCProfile", "ColorSpace",
        # value transforms and display
        "RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth",
        "VOILUTFunction", "VOILUTSequence", "ModalityLUTSequence", "LUTDescriptor", "LUTData",
        "ModalityLUTType", "PresentationLUTShape", "PixelIntensityRelationship",
        "PixelIntensityRelationshipSign", "RealWorldValueMappingSequence",
        "RealWorldValueIntercept", "RealWorldValueSlope", "RealWorldValueFirstValueMapped",
        "RealWorldValueLastValueMapped", "MeasurementUnitsCodeSequence",
        # coded entries (code sequences hold dictionary terms, not free text)
        "CodeValue", "CodingSchemeDesignator", "CodingSchemeVersion", "CodeMeaning",
        "LongCodeValue", "URNCodeValue", "AnatomicRegionSequence",
        "AnatomicRegionModifierSequence", "PrimaryAnatomicStructureSequence",
        "ViewCodeSequence", "ViewModifierCodeSequence", "PatientOrientationCodeSequence",
        "PatientOrientationModifierCodeSequence", "PatientGantryRelationshipCodeSequence",
        "DerivationCodeSequence", "PurposeOfReferenceCodeSequence",
        "ReferencedSOPClassUID", "ReferencedFrameNumber", "ReferencedSegmentNumber",
        # CT acquisition
        "KVP", "DataCollectionDiameter", "ReconstructionDiameter", "DistanceSourceToDetector",
        "DistanceSourceToPatient", "GantryDetectorTilt", "TableHeight", "RotationDirection",
        "ExposureTime", "XRayTubeCurrent", "Exposure", "ExposureInuAs", "FilterType",
        "GeneratorPower", "FocalSpots", "ConvolutionKernel", "RevolutionTime",
        "SingleCollimationWidth", "TotalCollimationWidth", "TableSpeed",
        "TableFeedPerRotation", "SpiralPitchFactor", "CTDIvol", "ExposureModulationType",
        "DataCollectionCenterPatient", "ReconstructionTargetCenterPatient",
        "ReconstructionAlgorithm", "CalciumScoringMassFactorPatient",
        "CTDIPhantomTypeCodeSequence", "ScanOptions",
        # MR acquisition
        "ScanningSequence", "SequenceVariant", "MRAcquisitionType", "SequenceName",
        "AngioFlag", "RepetitionTime", "EchoTime", "InversionTime", "NumberOfAverages",
        "ImagingFrequency", "ImagedNucleus", "EchoNumbers", "MagneticFieldStrength",
        "NumberOfPhaseEncodingSteps", "EchoTrainLength", "PercentSampling",
        "PercentPhaseFieldOfView", "PixelBandwidth", "ReceiveCoilName", "TransmitCoilName",
        "AcquisitionMatrix", "InPlanePhaseEncodingDirection", "FlipAngle",
        "VariableFlipAngleFlag", "SAR", "dBdt", "TriggerTime", "NominalInterval",
        "HeartRate", "CardiacNumberOfImages", "TriggerWindow", "LowRRValue", "HighRRValue",
        "IntervalsAcquired", "IntervalsRejected", "BeatRejectionFlag", "SkipBeats",
        "DiffusionBValue", "DiffusionGradientOrientation", "DiffusionDirectionality",
        "AcquisitionContrast", "PulseSequenceName", "EchoPulseSequence",
        "MagnetizationTransfer", "SpectrallySelectedSuppression", "ParallelAcquisition",
        "ParallelReductionFactorInPlane", "ParallelAcquisitionTechnique",
        "GeometryOfKSpaceTraversal", "SegmentedKSpaceTraversal", "RectilinearPhaseEncodeReordering",
        "TemporalResolution", "AcquisitionDuration", "ResonantNucleus", "KSpaceFiltering",
        "ComplexImageComponent", "AcquisitionContrast", "ChemicalShiftReference",
        # projection radiography, mammography, XA/RF
        "ExposureIndex", "TargetExposureIndex", "DeviationIndex", "Sensitivity",
        "RelativeXRayExposure", "AnodeTargetMaterial", "FilterMaterial", "CompressionForce",
        "BodyPartThickness", "PositionerType", "PositionerPrimaryAngle",
        "PositionerSecondaryAngle", "DetectorType", "Grid", "FieldOfViewShape",
        "FieldOfViewDimensions", "ImageAndFluoroscopyAreaDoseProduct", "EntranceDoseInmGy",
        "OrganDose", "HalfValueLayer", "CollimatorShape", "CollimatorLeftVerticalEdge",
        "CollimatorRightVerticalEdge", "CollimatorUpperHorizontalEdge",
        "CollimatorLowerHorizontalEdge", "ShutterShape", "ShutterLeftVerticalEdge",
        "ShutterRightVerticalEdge", "ShutterUpperHorizontalEdge", "ShutterLowerHorizontalEdge",
        "PhotometricInterpretation",
        # nuclear medicine and PET
        "Units", "CountsSource", "SeriesType", "DecayCorrection", "CorrectedImage",
        "RandomsCorrectionMethod", "AttenuationCorrectionMethod", "ScatterCorrectionMethod",
        "ReconstructionMethod", "DecayFactor", "DoseCalibrationFactor", "ScatterFractionFactor",
        "DeadTimeFactor", "ImageIndex", "FrameReferenceTime", "ActualFrameDuration",
        "NumberOfSlices", "NumberOfTimeSlices", "EnergyWindowVector", "NumberOfEnergyWindows",
        "DetectorVector", "NumberOfDetectors", "RotationVector", "NumberOfRotations",
        "SliceVector", "AxialAcceptance", "AxialMash", "TransverseMash",
        "RadiopharmaceuticalInformationSequence", "Radiopharmaceutical",
        "RadionuclideCodeSequence", "RadiopharmaceuticalCodeSequence",
        "RadionuclideTotalDose", "RadionuclideHalfLife", "RadionuclidePositronFraction",
        "RadiopharmaceuticalVolume", "EnergyWindowInformationSequence",
        "EnergyWindowRangeSequence", "EnergyWindowLowerLimit", "EnergyWindowUpperLimit",
        "CollimatorType", "ZoomFactor",
        # enhanced multi-frame objects: functional groups hold geometry and acquisition
        "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence",
        "PixelMeasuresSequence", "PlanePositionSequence", "PlaneOrientationSequence",
        "FrameContentSequence", "FrameVOILUTSequence", "PixelValueTransformationSequence",
        "MRImageFrameTypeSequence", "CTImageFrameTypeSequence", "FrameType",
        "MRTimingAndRelatedParametersSequence", "MREchoSequence", "EffectiveEchoTime",
        "MRModifierSequence", "MRFOVGeometrySequence", "MRDiffusionSequence",
        "MRAveragesSequence", "CTAcquisitionTypeSequence", "CTAcquisitionDetailsSequence",
        "CTGeometrySequence", "CTReconstructionSequence", "CTExposureSequence",
        "CTXRayDetailsSequence", "StackID", "InStackPositionNumber", "DimensionIndexValues",
        "DimensionOrganizationType", "DimensionIndexPointer", "FunctionalGroupPointer",
        "DimensionIndexSequence", "TemporalPositionIndex", "FrameAcquisitionNumber",
        "AcquisitionType", "TubeAngle", "ConstantVolumeFlag", "FluoroscopyFlag",
        "ReconstructionFieldOfView", "ReconstructionPixelSpacing",
        "ReconstructionAngle", "ImageFilter", "ExposureTimeInms", "XRayTubeCurrentInmA",
        "ExposureInmAs", "NumberOfFramesInRotation",
    }
)
