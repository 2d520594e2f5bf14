import type { Point } from '../geometry.ts';

/** dlib's mean face for landmarks 17–67 of the 68-point scheme, in a unit square (from dlib's get_face_chip_details). */
const DLIB_MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127,
  0.490127, 0.490127, 0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825,
  0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985,
  0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379,
  0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const DLIB_MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454,
  0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758,
  0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233,
  0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805,
  0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

/** ArcFace's 5-point template for 112×112 crops: eyes (image left, right), nose tip, mouth corners. */
const ARCFACE_112: Point[] = [
  [38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041],
];

export type AlignmentTemplate = 'dlib68' | 'arcface5';

/**
 * The template's target points in output-chip pixels and which source landmarks they pair with.
 * dlib68 pairs landmarks 17–67 with dlib's mean face padded by `padding` (dlib's face chip);
 * arcface5 pairs the five derived points with ArcFace's template scaled to the chip size.
 */
export function templatePoints(template: AlignmentTemplate, size: number, padding: number): { target: Point[]; uses: 'landmarks68' | 'points5' } {
  if (template === 'dlib68') {
    const target = DLIB_MEAN_X.map((x, i): Point => [
      ((padding + x) / (2 * padding + 1)) * (size - 1),
      ((padding + DLIB_MEAN_Y[i]) / (2 * padding + 1)) * (size - 1),
    ]);
    return { target, uses: 'landmarks68' };
  }
  return { target: ARCFACE_112.map(([x, y]): Point => [(x * size) / 112, (y * size) / 112]), uses: 'points5' };
}
