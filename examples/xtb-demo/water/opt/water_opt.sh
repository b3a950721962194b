#!/bin/bash
#SBATCH --job-name=water_opt
#SBATCH --ntasks=1
#SBATCH --time=10
# xTB geometry optimisation; ccbatch judges water_opt.out.
export OMP_NUM_THREADS=1
xtb start.xyz --opt > water_opt.out 2>&1
